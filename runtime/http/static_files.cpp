#include "http/static_files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <string_view>

#include "http/response_head.h"
#include "http/target.h"

namespace puff::http {
namespace {

std::string header_value(const RequestHead& request, std::string_view name) {
  for (const Header& header : request.headers) {
    if (header_is(header, name)) return header.value;
  }
  return "";
}

std::time_t parse_http_date(const std::string& text) {
  std::tm utc{};
  const char* end = strptime(text.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &utc);
  if (!end || *end != '\0') return -1;
  return timegm(&utc);
}

// If-Modified-Since holds: the file is not newer than the date. A date that does not parse or
// lies after the server's current time is invalid and the condition is ignored (RFC 9110
// §13.1.3): a client's clock ahead of ours must not keep it from seeing a newer file.
bool unmodified_since(std::time_t modified, const std::string& if_modified_since) {
  std::time_t since = parse_http_date(if_modified_since);
  return since >= 0 && since <= std::time(nullptr) && modified <= since;
}

StaticResponse plain(int status, const std::string& reason) {
  StaticResponse response;
  response.body = reason + "\n";
  response.head = {status, reason,
                   {{"Content-Type", "text/plain; charset=utf-8"},
                    {"Content-Length", std::to_string(response.body.size())}}};
  return response;
}

// The file under `directory` for the decoded relative path, or "" when it does not exist, is
// not a regular file, or resolves outside the directory ("..", symlinks out).
std::string resolve(const std::string& directory, const std::string& relative) {
  if (relative.find('\0') != std::string::npos) return "";
  char root[PATH_MAX];
  char file[PATH_MAX];
  if (!realpath(directory.c_str(), root)) return "";
  std::string candidate = std::string(root) + "/" + relative;
  if (!realpath(candidate.c_str(), file)) return "";
  std::string resolved = file;
  std::string prefix = std::string(root) + "/";
  if (resolved.compare(0, prefix.size(), prefix) != 0) return "";
  return resolved;
}

}  // namespace

FileSegment::~FileSegment() {
  if (fd >= 0) ::close(fd);
}

const StaticMount* find_static_mount(const std::vector<StaticMount>& mounts,
                                     const RequestHead& request) {
  if (mounts.empty()) return nullptr;
  std::string path = split_target(request.target).path;
  for (const StaticMount& mount : mounts) {
    if (path.compare(0, mount.url_prefix.size(), mount.url_prefix) == 0) return &mount;
  }
  return nullptr;
}

int parse_byte_range(const std::string& header, std::uint64_t size, std::uint64_t* first,
                     std::uint64_t* last) {
  constexpr std::string_view unit = "bytes=";
  if (header.compare(0, unit.size(), unit) != 0) return 0;
  std::string spec = header.substr(unit.size());
  if (spec.find(',') != std::string::npos) return 0;  // several ranges: send it all
  auto dash = spec.find('-');
  if (dash == std::string::npos) return 0;
  std::string start = spec.substr(0, dash);
  std::string end = spec.substr(dash + 1);
  auto number = [](const std::string& text, std::uint64_t* out) {
    if (text.empty() || text.size() > 19) return false;
    for (char c : text) {
      if (c < '0' || c > '9') return false;
    }
    *out = std::strtoull(text.c_str(), nullptr, 10);
    return true;
  };
  std::uint64_t a = 0;
  std::uint64_t b = 0;
  if (start.empty()) {  // the last N bytes
    if (!number(end, &b)) return 0;
    if (b == 0 || size == 0) return -1;
    *first = b >= size ? 0 : size - b;
    *last = size - 1;
    return 1;
  }
  if (!number(start, &a)) return 0;
  if (!end.empty() && (!number(end, &b) || b < a)) return 0;
  if (a >= size) return -1;
  *first = a;
  *last = end.empty() || b >= size ? size - 1 : b;
  return 1;
}

std::string content_type_for(const std::string& path) {
  static const std::array<std::pair<std::string_view, std::string_view>, 24> types = {{
      {".html", "text/html; charset=utf-8"}, {".htm", "text/html; charset=utf-8"},
      {".css", "text/css; charset=utf-8"}, {".js", "text/javascript; charset=utf-8"},
      {".mjs", "text/javascript; charset=utf-8"}, {".json", "application/json"},
      {".map", "application/json"}, {".txt", "text/plain; charset=utf-8"},
      {".xml", "application/xml"}, {".svg", "image/svg+xml"}, {".png", "image/png"},
      {".jpg", "image/jpeg"}, {".jpeg", "image/jpeg"}, {".gif", "image/gif"},
      {".webp", "image/webp"}, {".ico", "image/x-icon"}, {".woff", "font/woff"},
      {".woff2", "font/woff2"}, {".ttf", "font/ttf"}, {".pdf", "application/pdf"},
      {".wasm", "application/wasm"}, {".mp4", "video/mp4"}, {".webm", "video/webm"},
      {".csv", "text/csv; charset=utf-8"},
  }};
  auto dot = path.rfind('.');
  if (dot != std::string::npos && path.find('/', dot) == std::string::npos) {
    std::string extension = path.substr(dot);
    for (char& c : extension) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c + 32 : c);
    for (const auto& [ending, type] : types) {
      if (extension == ending) return std::string(type);
    }
  }
  return "application/octet-stream";
}

StaticResponse answer_static(const StaticMount& mount, const RequestHead& request) {
  if (request.method != "GET" && request.method != "HEAD") {
    StaticResponse response = plain(405, "Method Not Allowed");
    response.head.headers.push_back({"Allow", "GET, HEAD"});
    return response;
  }
  std::string path = percent_decode(split_target(request.target).path);
  std::string relative = path.substr(mount.url_prefix.size());
  std::string file = relative.empty() ? "" : resolve(mount.directory, relative);
  if (file.empty()) return plain(404, "Not Found");
  int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  struct stat info {};
  if (fd < 0 || ::fstat(fd, &info) != 0 || !S_ISREG(info.st_mode)) {
    if (fd >= 0) ::close(fd);
    return plain(404, "Not Found");
  }
  auto segment = std::make_shared<FileSegment>();
  segment->fd = fd;
  auto size = static_cast<std::uint64_t>(info.st_size);
  std::array<char, 64> tag{};
  std::snprintf(tag.data(), tag.size(), "\"%llx-%llx\"",
                static_cast<unsigned long long>(info.st_mtim.tv_sec) * 1000000000ULL +
                    static_cast<unsigned long long>(info.st_mtim.tv_nsec),
                static_cast<unsigned long long>(size));
  std::string etag = tag.data();
  std::string last_modified = format_http_date(info.st_mtim.tv_sec);
  StaticResponse response;
  std::vector<Header> validators = {{"ETag", etag}, {"Last-Modified", last_modified},
                                    {"Accept-Ranges", "bytes"}};

  std::string if_none_match = header_value(request, "If-None-Match");
  std::string if_modified_since = header_value(request, "If-Modified-Since");
  bool not_modified = false;
  if (!if_none_match.empty()) {
    not_modified = if_none_match == "*" || if_none_match.find(etag) != std::string::npos;
  } else if (!if_modified_since.empty()) {
    not_modified = unmodified_since(info.st_mtim.tv_sec, if_modified_since);
  }
  if (not_modified) {
    response.head = {304, "Not Modified", validators};
    return response;
  }
  std::uint64_t first = 0;
  std::uint64_t last = size ? size - 1 : 0;
  std::string range = header_value(request, "Range");
  std::string if_range = header_value(request, "If-Range");
  int ranged = range.empty() || (!if_range.empty() && if_range != etag && if_range != last_modified)
                   ? 0
                   : parse_byte_range(range, size, &first, &last);
  if (ranged < 0) {
    response = plain(416, "Range Not Satisfiable");
    response.head.headers.push_back({"Content-Range", "bytes */" + std::to_string(size)});
    return response;
  }
  std::uint64_t length = size == 0 ? 0 : last - first + 1;
  response.head = {ranged ? 206 : 200, ranged ? "Partial Content" : "OK", validators};
  response.head.headers.push_back({"Content-Type", content_type_for(file)});
  response.head.headers.push_back({"Content-Length", std::to_string(length)});
  if (ranged) {
    response.head.headers.push_back({"Content-Range", "bytes " + std::to_string(first) + "-" +
                                                          std::to_string(last) + "/" +
                                                          std::to_string(size)});
  }
  segment->offset = static_cast<std::int64_t>(first);
  segment->remaining = length;
  if (length > 0) response.file = std::move(segment);
  return response;
}

}  // namespace puff::http
