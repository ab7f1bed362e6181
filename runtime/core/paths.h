// Filesystem facts the runtime needs before Python starts.
#pragma once

#include <string>

namespace puff::core {

// Absolute path of the running executable (/proc/self/exe), symlinks resolved.
std::string executable_path();
std::string current_directory();
std::string parent_directory(const std::string& path);
bool file_exists(const std::string& path);
bool is_directory(const std::string& path);
// `path` made absolute against `base` when relative; "." and ".." segments removed lexically.
std::string absolute_path(const std::string& path, const std::string& base);

}  // namespace puff::core
