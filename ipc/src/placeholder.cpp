// Removed once the ipc module has sources of its own.
namespace sigdump::ipc {
int ipc_placeholder() { return 0; }
}  // namespace sigdump::ipc
