// The protocol's methods, one a file in this folder (method_NAME.cpp).
// ipc_methods.cpp lists each under its name: naming the handler there is
// what links its file into every program that serves the protocol.
#pragma once

#include "server/ipc_methods.h"

namespace sigdump::daemon {

method_result method_compare(method_context& ctx);
method_result method_hello(method_context& ctx);
method_result method_runs(method_context& ctx);
method_result method_status(method_context& ctx);
method_result method_subscribe(method_context& ctx);
method_result method_tensor(method_context& ctx);
method_result method_tensors(method_context& ctx);
method_result method_unsubscribe(method_context& ctx);

}  // namespace sigdump::daemon
