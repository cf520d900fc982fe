#include "sigdump/ipc/socket_path.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <optional>
#include <string>

#include "test_support.h"

namespace {

using sigdump::ipc::default_socket_path;
using sigdump::ipc::ensure_socket_dir;
using sigdump::testing::temp_dir;

// Sets or unsets an environment variable for one scope.
class scoped_env {
 public:
  scoped_env(const char* name, std::optional<std::string> value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    if (value) {
      ::setenv(name, value->c_str(), 1);
    } else {
      ::unsetenv(name);
    }
  }
  ~scoped_env() {
    if (old_) {
      ::setenv(name_, old_->c_str(), 1);
    } else {
      ::unsetenv(name_);
    }
  }
  scoped_env(const scoped_env&) = delete;
  scoped_env& operator=(const scoped_env&) = delete;

 private:
  const char* name_;
  std::optional<std::string> old_;
};

mode_t mode_of(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
  return st.st_mode & 07777;
}

TEST(SocketPath, EnvironmentVariableWins) {
  scoped_env s("SIGDUMP_SOCKET", "/some/where/sock");
  scoped_env x("XDG_RUNTIME_DIR", "/run/user/1000");
  EXPECT_EQ(default_socket_path(), "/some/where/sock");
}

TEST(SocketPath, XdgRuntimeDirWhenNoOverride) {
  scoped_env s("SIGDUMP_SOCKET", "");  // empty counts as unset
  scoped_env x("XDG_RUNTIME_DIR", "/run/user/1000/");
  EXPECT_EQ(default_socket_path(), "/run/user/1000/sigdump/sock");
}

TEST(SocketPath, TmpFallbackCarriesUid) {
  scoped_env s("SIGDUMP_SOCKET", std::nullopt);
  scoped_env x("XDG_RUNTIME_DIR", std::nullopt);
  EXPECT_EQ(default_socket_path(), "/tmp/sigdump-" + std::to_string(::getuid()) + "/sock");
}

TEST(SocketPath, CreatesPrivateFolders) {
  temp_dir tmp;
  const std::string sock = tmp.file("a/b/sock");
  auto r = ensure_socket_dir(sock);
  ASSERT_TRUE(r) << r.error().describe();
  EXPECT_EQ(mode_of(tmp.file("a/b")), 0700u);
  EXPECT_EQ(mode_of(tmp.file("a")), 0700u);
  // A second call accepts the folder it made.
  EXPECT_TRUE(ensure_socket_dir(sock));
}

TEST(SocketPath, RefusesFolderWritableByOthers) {
  temp_dir tmp;
  const std::string dir = tmp.file("open");
  ASSERT_EQ(::mkdir(dir.c_str(), 0700), 0);
  ASSERT_EQ(::chmod(dir.c_str(), 0777), 0);
  auto r = ensure_socket_dir(dir + "/sock");
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("0777"), std::string::npos) << r.error().message;
  EXPECT_EQ(r.error().file, dir);
  EXPECT_EQ(mode_of(dir), 0777u);  // never changed behind the user's back
}

TEST(SocketPath, AcceptsReadableButNotWritableFolder) {
  temp_dir tmp;
  const std::string dir = tmp.file("home");
  ASSERT_EQ(::mkdir(dir.c_str(), 0755), 0);
  ASSERT_EQ(::chmod(dir.c_str(), 0755), 0);
  EXPECT_TRUE(ensure_socket_dir(dir + "/sock"));
}

TEST(SocketPath, RefusesFolderOfAnotherUser) {
  temp_dir tmp;
  const std::string dir = tmp.file("theirs");
  ASSERT_EQ(::mkdir(dir.c_str(), 0700), 0);
  if (::chown(dir.c_str(), ::geteuid() + 4242, static_cast<gid_t>(-1)) != 0) {
    GTEST_SKIP() << "cannot chown (not root); the owner check needs another user's folder";
  }
  auto r = ensure_socket_dir(dir + "/sock");
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("owned by uid"), std::string::npos) << r.error().message;
}

TEST(SocketPath, RefusesFileInPlaceOfFolder) {
  temp_dir tmp;
  sigdump::testing::write_file(tmp.file("plain"), "x");
  auto r = ensure_socket_dir(tmp.file("plain") + "/sock");
  ASSERT_FALSE(r);
}

TEST(SocketPath, FollowsOwnSymlinkRefusesForeignOne) {
  temp_dir tmp;
  const std::string real = tmp.file("real");
  ASSERT_EQ(::mkdir(real.c_str(), 0700), 0);
  ASSERT_EQ(::symlink(real.c_str(), tmp.file("link").c_str()), 0);
  EXPECT_TRUE(ensure_socket_dir(tmp.file("link") + "/sock"));
  if (::lchown(tmp.file("link").c_str(), ::geteuid() + 4242, static_cast<gid_t>(-1)) != 0) {
    GTEST_SKIP() << "cannot lchown (not root)";
  }
  auto r = ensure_socket_dir(tmp.file("link") + "/sock");
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("symlink"), std::string::npos) << r.error().message;
}

}  // namespace
