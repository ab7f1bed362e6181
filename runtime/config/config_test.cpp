#include "config/config.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>

#include "config/detail.h"

namespace puff::config {
namespace {

namespace fs = std::filesystem;

#define EXPECT_CONTAINS(text, part) \
  EXPECT_NE(std::string(text).find(part), std::string::npos) << "in: " << (text)

class ConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/puff_config_test_XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    dir_ = pattern;
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string write(const std::string& text, const std::string& name = "puff.toml") {
    fs::path path = fs::path(dir_) / name;
    fs::create_directories(path.parent_path());
    std::ofstream(path) << text;
    return path.string();
  }
  Config load_text(const std::string& text, const Environment& env = {}) {
    write(text);
    return load("", dir_, env);
  }
  // The ConfigError message of loading `text` (with `env`), or "" after a test failure.
  std::string error_of(const std::string& text, const Environment& env = {}) {
    write(text);
    return error_of_load(env);
  }
  std::string error_of_load(const Environment& env) {
    try {
      load("", dir_, env);
    } catch (const ConfigError& error) {
      std::string message = error.what();
      EXPECT_EQ(message.find('\n'), std::string::npos) << "not one line: " << message;
      return message;
    }
    ADD_FAILURE() << "expected a ConfigError";
    return "";
  }

  std::string dir_;
};

// --- finding the file, defaults -----------------------------------------------------------

TEST_F(ConfigTest, DefaultsWithoutFile) {
  Config config = load("", dir_, {});
  EXPECT_EQ(config.source_path, "");
  EXPECT_EQ(config.project_dir, dir_);
  EXPECT_EQ(config.services.dir, dir_ + "/.puff");
  EXPECT_EQ(config.runtime.io_threads, 0);
  EXPECT_EQ(config.runtime.log_level, "info");
  EXPECT_EQ(config.http.bind, "127.0.0.1:8000");
  ASSERT_EQ(config.postgres.size(), 1u);
  EXPECT_EQ(config.postgres[0].name, "default");
  EXPECT_EQ(config.postgres[0].url, "embedded");
  EXPECT_TRUE(config.postgres[0].implicit);
  ASSERT_EQ(config.redis.size(), 1u);
  EXPECT_TRUE(config.redis[0].implicit);
  EXPECT_TRUE(config.commands.empty());
}

TEST_F(ConfigTest, FindsPuffTomlInCwd) {
  Config config = load_text("[runtime]\nio_threads = 3\n");
  EXPECT_EQ(config.source_path, dir_ + "/puff.toml");
  EXPECT_EQ(config.project_dir, dir_);
  EXPECT_EQ(config.runtime.io_threads, 3);
}

TEST_F(ConfigTest, ExplicitMissingFile) {
  try {
    load("nope.toml", dir_, {});
    FAIL() << "expected a ConfigError";
  } catch (const ConfigError& error) {
    EXPECT_STREQ(error.what(), "nope.toml: config file not found");
  }
}

TEST_F(ConfigTest, ExplicitPathIsRelativeToCwdAndNamedAsGiven) {
  write("[runtime]\nio_threads = 2\n", "conf/app.toml");
  Config config = load("conf/app.toml", dir_, {});
  EXPECT_EQ(config.source_path, dir_ + "/conf/app.toml");
  EXPECT_EQ(config.project_dir, dir_ + "/conf");
  EXPECT_EQ(config.runtime.io_threads, 2);

  write("\n[runtime]\nio_threads = -1\n", "conf/app.toml");
  try {
    load("conf/app.toml", dir_, {});
    FAIL() << "expected a ConfigError";
  } catch (const ConfigError& error) {
    EXPECT_EQ(std::string(error.what()).rfind("conf/app.toml:3: ", 0), 0u) << error.what();
  }
}

TEST_F(ConfigTest, ProjectDirIsRelativeToTheFile) {
  fs::create_directories(dir_ + "/conf/app");
  write("project_dir = \"app\"\n[http]\nstatic = [\"/static/=assets\"]\n", "conf/puff.toml");
  Config config = load(dir_ + "/conf/puff.toml", "/", {});
  EXPECT_EQ(config.project_dir, dir_ + "/conf/app");
  EXPECT_EQ(config.services.dir, dir_ + "/conf/app/.puff");
  ASSERT_EQ(config.http.static_mounts.size(), 1u);
  EXPECT_EQ(config.http.static_mounts[0].directory, dir_ + "/conf/app/assets");
}

TEST_F(ConfigTest, ProjectDirMustExist) {
  std::string message = error_of("\nproject_dir = \"missing\"\n");
  EXPECT_CONTAINS(message, "puff.toml:2: project_dir: \"missing\" (" + dir_ +
                               "/missing) is not a directory");
}

// --- a complete file ---------------------------------------------------------------------

TEST_F(ConfigTest, FullValidFile) {
  Config config = load_text(R"(
django_settings = "mysite.settings"
wsgi = "mysite.wsgi:application"
[runtime]
io_threads = 4
blocking_threads = 32
watchdog_ms = 0
log_level = "debug"
[http]
bind = "[::1]:9000"
workers = 3
reload = true
static = ["/static=static", "/media/=/srv/media"]
max_header_bytes = 8192
max_header_fields = 50
max_body_bytes = 1024
request_timeout = 30
keepalive_timeout = 2.5
idle_timeout = 90
header_timeout = 4
graceful_timeout = 0
max_connections = 500
pipeline_depth = 4
access_log = "json"
trusted_proxies = ["127.0.0.1", "10.0.0.0/8", "::1"]
[services]
dir = "/var/puff"
[[postgres]]
name = "default"
url = "postgresql://app:secret@db.example.com:5433/app"
min_size = 0
max_size = 20
acquire_timeout = 2
health_check_after = 0
connect_timeout = 3.5
statement_timeout = 15
reconnect_backoff_max = 1
[[postgres]]
name = "read-replica"
url = "host=replica dbname=app"
[[redis]]
name = "cache"
url = "rediss://user:p%40ss@cache:6380/2"
pool_size = 8
connect_timeout = 1
command_timeout = 0.5
reconnect_backoff_max = 3
[[commands]]
name = "load-data"
function = "myapp.tasks:load_data"
help = "Load the fixtures"
)");
  EXPECT_EQ(config.django_settings, "mysite.settings");
  EXPECT_EQ(config.wsgi, "mysite.wsgi:application");
  EXPECT_EQ(config.runtime.io_threads, 4);
  EXPECT_EQ(config.runtime.blocking_threads, 32);
  EXPECT_EQ(config.runtime.watchdog_ms, 0);
  EXPECT_EQ(config.runtime.log_level, "debug");
  EXPECT_EQ(config.http.bind, "[::1]:9000");
  EXPECT_EQ(config.http.workers, 3);
  EXPECT_TRUE(config.http.reload);
  ASSERT_EQ(config.http.static_mounts.size(), 2u);
  EXPECT_EQ(config.http.static_mounts[0].url_prefix, "/static/");
  EXPECT_EQ(config.http.static_mounts[0].directory, dir_ + "/static");
  EXPECT_EQ(config.http.static_mounts[1].url_prefix, "/media/");
  EXPECT_EQ(config.http.static_mounts[1].directory, "/srv/media");
  EXPECT_EQ(config.http.max_header_bytes, 8192);
  EXPECT_EQ(config.http.max_header_fields, 50);
  EXPECT_EQ(config.http.max_body_bytes, 1024);
  EXPECT_DOUBLE_EQ(config.http.request_timeout_s, 30.0);
  EXPECT_DOUBLE_EQ(config.http.keepalive_timeout_s, 2.5);
  EXPECT_DOUBLE_EQ(config.http.idle_timeout_s, 90.0);
  EXPECT_DOUBLE_EQ(config.http.header_timeout_s, 4.0);
  EXPECT_DOUBLE_EQ(config.http.graceful_timeout_s, 0.0);
  EXPECT_EQ(config.http.max_connections, 500);
  EXPECT_EQ(config.http.pipeline_depth, 4);
  EXPECT_EQ(config.http.access_log, "json");
  EXPECT_EQ(config.http.trusted_proxies,
            (std::vector<std::string>{"127.0.0.1", "10.0.0.0/8", "::1"}));
  EXPECT_EQ(config.services.dir, "/var/puff");

  ASSERT_EQ(config.postgres.size(), 2u);
  const PostgresConfig* pg = config.find_postgres("default");
  ASSERT_NE(pg, nullptr);
  EXPECT_FALSE(pg->implicit);
  EXPECT_EQ(pg->url, "postgresql://app:secret@db.example.com:5433/app");
  EXPECT_EQ(pg->min_size, 0);
  EXPECT_EQ(pg->max_size, 20);
  EXPECT_DOUBLE_EQ(pg->acquire_timeout_s, 2.0);
  EXPECT_DOUBLE_EQ(pg->health_check_after_s, 0.0);
  EXPECT_DOUBLE_EQ(pg->connect_timeout_s, 3.5);
  EXPECT_DOUBLE_EQ(pg->statement_timeout_s, 15.0);
  EXPECT_DOUBLE_EQ(pg->reconnect_backoff_max_s, 1.0);
  const PostgresConfig* replica = config.find_postgres("read-replica");
  ASSERT_NE(replica, nullptr);
  EXPECT_EQ(replica->max_size, 10);  // defaults for unwritten keys

  ASSERT_EQ(config.redis.size(), 2u);  // "cache" plus the implicit "default"
  EXPECT_TRUE(config.find_redis("default")->implicit);
  const RedisConfig* cache = config.find_redis("cache");
  ASSERT_NE(cache, nullptr);
  EXPECT_EQ(cache->pool_size, 8);
  EXPECT_DOUBLE_EQ(cache->command_timeout_s, 0.5);
  EXPECT_DOUBLE_EQ(cache->reconnect_backoff_max_s, 3.0);
  EXPECT_EQ(config.find_redis("nope"), nullptr);

  ASSERT_EQ(config.commands.size(), 1u);
  EXPECT_EQ(config.commands[0].name, "load-data");
  EXPECT_EQ(config.commands[0].function, "myapp.tasks:load_data");
  EXPECT_EQ(config.commands[0].help, "Load the fixtures");
}

TEST_F(ConfigTest, ExampleConfigLoadsAndMatchesDefaults) {
  Config example = load_text(example_config());
  Config defaults = load("", "/", {});  // no puff.toml in /
  EXPECT_EQ(example.runtime.io_threads, defaults.runtime.io_threads);
  EXPECT_EQ(example.runtime.blocking_threads, defaults.runtime.blocking_threads);
  EXPECT_EQ(example.runtime.watchdog_ms, defaults.runtime.watchdog_ms);
  EXPECT_EQ(example.runtime.log_level, defaults.runtime.log_level);
  EXPECT_EQ(example.http.bind, defaults.http.bind);
  EXPECT_EQ(example.http.workers, defaults.http.workers);
  EXPECT_EQ(example.http.max_header_bytes, defaults.http.max_header_bytes);
  EXPECT_EQ(example.http.max_header_fields, defaults.http.max_header_fields);
  EXPECT_EQ(example.http.max_body_bytes, defaults.http.max_body_bytes);
  EXPECT_EQ(example.http.request_timeout_s, defaults.http.request_timeout_s);
  EXPECT_EQ(example.http.keepalive_timeout_s, defaults.http.keepalive_timeout_s);
  EXPECT_EQ(example.http.idle_timeout_s, defaults.http.idle_timeout_s);
  EXPECT_EQ(example.http.header_timeout_s, defaults.http.header_timeout_s);
  EXPECT_EQ(example.http.graceful_timeout_s, defaults.http.graceful_timeout_s);
  EXPECT_EQ(example.http.max_connections, defaults.http.max_connections);
  EXPECT_EQ(example.http.pipeline_depth, defaults.http.pipeline_depth);
  EXPECT_EQ(example.http.access_log, defaults.http.access_log);
  EXPECT_EQ(example.services.dir, dir_ + "/.puff");
  ASSERT_EQ(example.postgres.size(), 1u);
  const PostgresConfig& pg = example.postgres[0];
  const PostgresConfig& pg_default = defaults.postgres[0];
  EXPECT_EQ(pg.url, "embedded");
  EXPECT_EQ(pg.min_size, pg_default.min_size);
  EXPECT_EQ(pg.max_size, pg_default.max_size);
  EXPECT_EQ(pg.acquire_timeout_s, pg_default.acquire_timeout_s);
  EXPECT_EQ(pg.health_check_after_s, pg_default.health_check_after_s);
  EXPECT_EQ(pg.connect_timeout_s, pg_default.connect_timeout_s);
  EXPECT_EQ(pg.statement_timeout_s, pg_default.statement_timeout_s);
  EXPECT_EQ(pg.reconnect_backoff_max_s, pg_default.reconnect_backoff_max_s);
  ASSERT_EQ(example.redis.size(), 1u);
  EXPECT_EQ(example.redis[0].url, "embedded");
  EXPECT_EQ(example.redis[0].pool_size, defaults.redis[0].pool_size);
  EXPECT_EQ(example.redis[0].connect_timeout_s, defaults.redis[0].connect_timeout_s);
  EXPECT_EQ(example.redis[0].command_timeout_s, defaults.redis[0].command_timeout_s);
  EXPECT_EQ(example.redis[0].reconnect_backoff_max_s, defaults.redis[0].reconnect_backoff_max_s);
  EXPECT_TRUE(example.commands.empty());
}

TEST_F(ConfigTest, ImplicitDefaultsAddedBesideUserEntries) {
  Config config = load_text("[[postgres]]\nname = \"replica\"\nurl = \"dbname=x\"\n");
  ASSERT_EQ(config.postgres.size(), 2u);
  EXPECT_EQ(config.postgres[0].name, "default");
  EXPECT_TRUE(config.postgres[0].implicit);
  EXPECT_EQ(config.postgres[0].url, "embedded");
  EXPECT_FALSE(config.find_postgres("replica")->implicit);
}

TEST_F(ConfigTest, UnnamedEntryIsTheDefault) {
  Config config = load_text("[[redis]]\nurl = \"redis://localhost\"\n");
  ASSERT_EQ(config.redis.size(), 1u);
  EXPECT_EQ(config.redis[0].name, "default");
  EXPECT_FALSE(config.redis[0].implicit);
}

// --- file errors ---------------------------------------------------------------------------

TEST_F(ConfigTest, UnknownKeySuggestsClosest) {
  std::string message = error_of("[[postgres]]\nname = \"default\"\nmax_sise = 3\n");
  EXPECT_CONTAINS(message, "puff.toml:3: unknown key \"max_sise\" in [[postgres]]; "
                           "did you mean \"max_size\"? allowed keys: name, url, min_size,");
}

TEST_F(ConfigTest, UnknownKeyWithoutCloseMatchListsKeys) {
  std::string message = error_of("[runtime]\ncolour = \"blue\"\n");
  EXPECT_EQ(message, "puff.toml:2: unknown key \"colour\" in [runtime]; allowed keys: "
                     "io_threads, blocking_threads, watchdog_ms, log_level");
}

TEST_F(ConfigTest, UnknownTopLevelKeyReportsFirstByLine) {
  std::string message = error_of("zzz = 1\n\naaa = 2\n");
  EXPECT_CONTAINS(message, "puff.toml:1: unknown key \"zzz\" at the top level;");
  message = error_of("wsgi = \"a.b\"\nprojet_dir = \".\"\n");
  EXPECT_CONTAINS(message, "puff.toml:2: unknown key \"projet_dir\" at the top level; "
                           "did you mean \"project_dir\"?");
}

TEST_F(ConfigTest, WrongType) {
  EXPECT_EQ(error_of("\n[runtime]\nio_threads = \"4\"\n"),
            "puff.toml:3: [runtime] io_threads must be an integer, got string");
  EXPECT_EQ(error_of("[runtime]\nio_threads = 4.0\n"),
            "puff.toml:2: [runtime] io_threads must be an integer, got float");
  EXPECT_EQ(error_of("[http]\nreload = 1\n"),
            "puff.toml:2: [http] reload must be a boolean (true or false), got integer");
  EXPECT_EQ(error_of("[http]\nrequest_timeout = \"30s\"\n"),
            "puff.toml:2: [http] request_timeout must be a number of seconds, got string");
  EXPECT_EQ(error_of("wsgi = 3\n"), "puff.toml:1: wsgi must be a string, got integer");
}

TEST_F(ConfigTest, ArrayElementType) {
  EXPECT_CONTAINS(error_of("[http]\ntrusted_proxies = [\n  \"::1\",\n  7,\n]\n"),
                  "puff.toml:4: [http] trusted_proxies must be an array of strings, got an "
                  "integer element");
}

TEST_F(ConfigTest, IntegerRanges) {
  EXPECT_EQ(error_of("[runtime]\nio_threads = 300\n"),
            "puff.toml:2: [runtime] io_threads = 300 is out of range; allowed: 0..256");
  EXPECT_CONTAINS(error_of("[runtime]\nblocking_threads = 0\n"), "allowed: 1..1024");
  EXPECT_CONTAINS(error_of("[runtime]\nwatchdog_ms = 600001\n"), "allowed: 0..600000");
  EXPECT_CONTAINS(error_of("[http]\nworkers = 0\n"),
                  "[http] workers = 0 is out of range; allowed: 1..256");
  EXPECT_CONTAINS(error_of("[[redis]]\npool_size = 2000\n"), "allowed: 1..1024");
  EXPECT_CONTAINS(error_of("[[postgres]]\nmax_size = 0\n"), "allowed: 1..10000");
}

TEST_F(ConfigTest, MinSizeAboveMaxSize) {
  EXPECT_EQ(error_of("[[postgres]]\nmax_size = 5\nmin_size = 6\n"),
            "puff.toml:3: [[postgres]] min_size = 6 is larger than max_size = 5; "
            "allowed: 0..max_size");
}

TEST_F(ConfigTest, TimeoutRanges) {
  EXPECT_EQ(error_of("[[postgres]]\nconnect_timeout = 0\n"),
            "puff.toml:2: [[postgres]] connect_timeout = 0 is out of range; allowed: seconds > "
            "0, at most 3.1536e+07");
  EXPECT_CONTAINS(error_of("[[postgres]]\nstatement_timeout = -1\n"),
                  "statement_timeout = -1 is out of range; allowed: seconds >= 0");
  EXPECT_CONTAINS(error_of("[http]\nidle_timeout = nan\n"), "idle_timeout = nan is out of range");
  EXPECT_CONTAINS(error_of("[[redis]]\ncommand_timeout = inf\n"), "out of range");
  Config config = load_text("[[postgres]]\nstatement_timeout = 0\n");
  EXPECT_DOUBLE_EQ(config.postgres[0].statement_timeout_s, 0.0);
}

TEST_F(ConfigTest, EnumValues) {
  EXPECT_EQ(error_of("[runtime]\nlog_level = \"warnin\"\n"),
            "puff.toml:2: [runtime] log_level: \"warnin\" is not allowed; use one of: debug, "
            "info, warning, error (did you mean \"warning\"?)");
  EXPECT_CONTAINS(error_of("[runtime]\nlog_level = \"warn\"\n"), "(did you mean \"warning\"?)");
  EXPECT_CONTAINS(error_of("[http]\naccess_log = \"xml\"\n"),
                  "[http] access_log: \"xml\" is not allowed; use one of: common, json, off");
}

TEST_F(ConfigTest, DuplicateNames) {
  EXPECT_EQ(error_of("[[postgres]]\nname = \"main\"\n\n[[postgres]]\nname = \"main\"\n"),
            "puff.toml:5: [[postgres]] name: \"main\" is already used at line 2; give each "
            "[[postgres]] a unique name");
  EXPECT_CONTAINS(error_of("[[redis]]\n[[redis]]\n"),
                  "puff.toml:2: [[redis]] name: \"default\" is already used at line 1");
  EXPECT_CONTAINS(error_of("[[redis]]\nname = \"a-b\"\n[[redis]]\nname = \"a_b\"\n"),
                  "puff.toml:4: [[redis]] name: \"a_b\" clashes with \"a-b\" at line 2 (both map "
                  "to PUFF_A_B_..._URL)");
  EXPECT_CONTAINS(error_of("[[commands]]\nname = \"go\"\nfunction = \"a:b\"\n"
                           "[[commands]]\nname = \"go\"\nfunction = \"c:d\"\n"),
                  "puff.toml:5: [[commands]] name: \"go\" is already used at line 2");
}

TEST_F(ConfigTest, BadEntryName) {
  EXPECT_CONTAINS(error_of("[[postgres]]\nname = \"Main DB\"\n"),
                  "puff.toml:2: [[postgres]] name: \"Main DB\" is not a valid name;");
}

TEST_F(ConfigTest, BadPostgresUrlCarriesLibpqMessage) {
  std::string message = error_of("[[postgres]]\n\nurl = \"host=localhost port\"\n");
  EXPECT_CONTAINS(message, "puff.toml:3: [[postgres]] url: libpq rejected it: missing \"=\" after "
                           "\"port\" in connection info string; use \"embedded\", postgresql://");
}

TEST_F(ConfigTest, CheckPostgresUrl) {
  EXPECT_EQ(check_postgres_url("embedded"), "");
  EXPECT_EQ(check_postgres_url("postgresql://u:p@localhost:5432/db"), "");
  EXPECT_EQ(check_postgres_url("postgres://localhost/db?sslmode=require"), "");
  EXPECT_EQ(check_postgres_url("host=/tmp dbname=x"), "");
  EXPECT_CONTAINS(check_postgres_url(""), "the URL is empty");
  EXPECT_CONTAINS(check_postgres_url("mysql://localhost/db"), "unsupported scheme \"mysql\"");
  EXPECT_CONTAINS(check_postgres_url("postgresql://localhost:99999/db"),
                  "port must be 1..65535, got \"99999\"");
  EXPECT_CONTAINS(check_postgres_url("host=a,b port=5432,x"), "got \"x\"");
  EXPECT_CONTAINS(check_postgres_url("postgresql://localhost/db?bogus=1"),
                  "libpq rejected it: invalid URI query parameter: \"bogus\"");
  EXPECT_CONTAINS(check_postgres_url("nonsense"), "libpq rejected it: missing \"=\"");
}

TEST_F(ConfigTest, PostgresErrorsHidePasswords) {
  std::string message = check_postgres_url("postgresql://app:hunter22@[::1/db");
  EXPECT_CONTAINS(message, "libpq rejected it:");
  EXPECT_CONTAINS(message, "postgresql://app:***@[::1/db");
  EXPECT_EQ(message.find("hunter22"), std::string::npos) << message;
  message = check_postgres_url("password='hunter22 host=x");
  EXPECT_CONTAINS(message, "libpq rejected it:");
  EXPECT_EQ(message.find("hunter22"), std::string::npos) << message;
}

TEST_F(ConfigTest, BadRedisUrls) {
  EXPECT_EQ(check_redis_url("embedded"), "");
  EXPECT_EQ(check_redis_url("redis://h?db=1&password=p"), "");  // query works on every scheme
  EXPECT_EQ(check_redis_url("unix:///run/redis.sock?db=5"), "");
  EXPECT_CONTAINS(check_redis_url("http://x"),
                  "unknown scheme \"http\" (expected redis://, rediss:// or unix://); "
                  "use \"embedded\", redis://");
  EXPECT_CONTAINS(check_redis_url("localhost:6379"), "not a URL");
  EXPECT_CONTAINS(check_redis_url("redis://"), "missing host");
  EXPECT_CONTAINS(check_redis_url("redis://h:0"), "port must be 1..65535, got \"0\"");
  EXPECT_CONTAINS(check_redis_url("redis://h:70000"), "port must be 1..65535, got \"70000\"");
  EXPECT_CONTAINS(check_redis_url("redis://h/-1"),
                  "database must be a non-negative integer, got \"-1\"");
  EXPECT_CONTAINS(check_redis_url("redis://h/x"), "got \"x\"");
  EXPECT_CONTAINS(check_redis_url("redis://h?db=x"),
                  "database must be a non-negative integer, got \"x\"");
  EXPECT_CONTAINS(check_redis_url("redis://h?timeout=1"),
                  "unknown parameter \"timeout\"; allowed: db, password, username");
  EXPECT_CONTAINS(check_redis_url("redis://::1:6379"), "IPv6 hosts need brackets");
  EXPECT_CONTAINS(check_redis_url("redis://u:%zz@h"), "bad %-escape in the user or password");
  EXPECT_CONTAINS(check_redis_url("unix://run/redis.sock"),
                  "unix socket path must be absolute, got \"run/redis.sock\"");
  EXPECT_CONTAINS(check_redis_url("unix:///r.sock?timeout=1"), "unknown parameter \"timeout\"");
}

TEST_F(ConfigTest, RedisErrorsHidePasswords) {
  std::string message = check_redis_url("redis://:hunter22@h:99999");
  EXPECT_CONTAINS(message, "port must be 1..65535, got \"99999\"");
  EXPECT_EQ(message.find("hunter22"), std::string::npos) << message;
  // A '/' in the password ends the host part early: "hun" would be read as the port.
  message = check_redis_url("redis://:hun/ter22@h:6379/0");
  EXPECT_CONTAINS(message, "port must be 1..65535, got \"***\" (value hidden");
  EXPECT_EQ(message.find("hun"), std::string::npos) << message;
}

TEST_F(ConfigTest, BadRedisUrlInFile) {
  EXPECT_CONTAINS(error_of("[[redis]]\nname = \"cache\"\nurl = \"redis://cache:port\"\n"),
                  "puff.toml:3: [[redis]] url: port must be 1..65535, got \"port\"; "
                  "use \"embedded\", redis://");
}

TEST_F(ConfigTest, CheckBind) {
  EXPECT_EQ(check_bind("127.0.0.1:8000"), "");
  EXPECT_EQ(check_bind("localhost:0"), "");
  EXPECT_EQ(check_bind("[::]:443"), "");
  EXPECT_EQ(check_bind("unix:/run/puff.sock"), "");
  EXPECT_CONTAINS(check_bind("localhost"), "\"localhost\" has no port; use HOST:PORT");
  EXPECT_CONTAINS(check_bind(":8000"), "has no host");
  EXPECT_CONTAINS(check_bind("::1:8000"), "IPv6 addresses need brackets");
  EXPECT_CONTAINS(check_bind("[zz]:80"), "does not hold an IPv6 address");
  EXPECT_CONTAINS(check_bind("[::1]"), "has no port");
  EXPECT_CONTAINS(check_bind("host:65536"), "port must be 0..65535, got \"65536\"");
  EXPECT_CONTAINS(check_bind("unix:puff.sock"), "unix socket path must be absolute");
  EXPECT_CONTAINS(check_bind("unix:/" + std::string(200, 'x')), "longer than 107 bytes");
  EXPECT_CONTAINS(check_bind("bad host:80"), "invalid host name");
}

TEST_F(ConfigTest, BadBindInFile) {
  EXPECT_EQ(error_of("[http]\nbind = \"8000\"\n"),
            "puff.toml:2: [http] bind: \"8000\" has no port; use HOST:PORT, [IPv6]:PORT or "
            "unix:/absolute/path");
}

TEST_F(ConfigTest, BadStatic) {
  EXPECT_EQ(error_of("[http]\nstatic = [\n  \"/a/=a\",\n  \"static\",\n]\n"),
            "puff.toml:4: [http] static: \"static\" is not \"URL=DIR\"; e.g. \"/static/=static\"");
  EXPECT_CONTAINS(error_of("[http]\nstatic = [\"static/=static\"]\n"),
                  "puff.toml:2: [http] static: URL \"static/\" must start with \"/\"");
  EXPECT_CONTAINS(error_of("[http]\nstatic = [\"/s/=\"]\n"), "has an empty directory");
  EXPECT_CONTAINS(error_of("[http]\nstatic = [\"/s=a\", \"/s/=b\"]\n"),
                  "URL \"/s/\" is mounted twice");
}

TEST_F(ConfigTest, BadTrustedProxy) {
  EXPECT_CONTAINS(error_of("[http]\ntrusted_proxies = [\"10.0.0.0/33\"]\n"),
                  "puff.toml:2: [http] trusted_proxies: \"10.0.0.0/33\" is not an IP address or "
                  "CIDR range");
}

TEST_F(ConfigTest, BadPythonPaths) {
  EXPECT_CONTAINS(error_of("django_settings = \"my-site.settings\"\n"),
                  "puff.toml:1: django_settings: \"my-site.settings\" is not a Python module path");
  EXPECT_CONTAINS(error_of("wsgi = \"application\"\n"), "is not a WSGI application path");
}

TEST_F(ConfigTest, CommandsNeedNameAndFunction) {
  EXPECT_EQ(error_of("\n[[commands]]\nname = \"go\"\n"),
            "puff.toml:2: [[commands]] has no function; each command needs name = \"...\" and "
            "function = \"module:function\"");
  EXPECT_CONTAINS(error_of("[[commands]]\nfunction = \"a:b\"\n"), "[[commands]] has no name;");
}

TEST_F(ConfigTest, BadCommands) {
  EXPECT_CONTAINS(error_of("[[commands]]\nname = \"go\"\nfunction = \"myapp.main\"\n"),
                  "puff.toml:3: [[commands]] function: \"myapp.main\" is not a "
                  "\"module:function\"");
  EXPECT_CONTAINS(error_of("[[commands]]\nname = \"go\"\nfunction = \"myapp:\"\n"),
                  "is not a \"module:function\"");
  EXPECT_CONTAINS(error_of("[[commands]]\nname = \"go\"\nfunction = \":main\"\n"),
                  "is not a \"module:function\"");
  EXPECT_CONTAINS(error_of("[[commands]]\nname = \"Go\"\nfunction = \"a:b\"\n"),
                  "puff.toml:2: [[commands]] name: \"Go\" is not a valid command name");
  EXPECT_CONTAINS(error_of("[[commands]]\nname = \"-x\"\nfunction = \"a:b\"\n"),
                  "is not a valid command name");
  EXPECT_CONTAINS(error_of("[[commands]]\nname = \"doctor\"\nfunction = \"a:b\"\n"),
                  "[[commands]] name: \"doctor\" is a built-in command; choose another name");
}

TEST_F(ConfigTest, TomlSyntaxErrorHasLine) {
  std::string message = error_of("[runtime]\nio_threads = 4\nlog_level = \n");
  EXPECT_EQ(message.rfind("puff.toml:3: ", 0), 0u) << message;
  EXPECT_CONTAINS(message, "; puff.toml must be valid TOML");
  message = error_of("[runtime]\nio_threads = 1\nio_threads = 2\n");
  EXPECT_EQ(message.rfind("puff.toml:3: ", 0), 0u) << message;
}

TEST_F(ConfigTest, NonTableWhereTableExpected) {
  EXPECT_EQ(error_of("runtime = 5\n"),
            "puff.toml:1: runtime must be a table, got integer; write [runtime] (single "
            "brackets) and its keys below");
  EXPECT_CONTAINS(error_of("[[http]]\n"), "http must be a table, got array");
  EXPECT_CONTAINS(error_of("[postgres]\nname = \"x\"\n"),
                  "puff.toml:1: postgres must be an array of tables, got table; write "
                  "[[postgres]] (double brackets)");
  EXPECT_CONTAINS(error_of("redis = [1]\n"),
                  "redis must be an array of tables, got an integer element");
}

// --- environment ---------------------------------------------------------------------------

TEST_F(ConfigTest, EnvironmentOverridesFile) {
  Config config = load_text(
      "[runtime]\nio_threads = 2\nlog_level = \"debug\"\n[http]\nbind = \"0.0.0.0:1\"\n",
      {{"PUFF_IO_THREADS", "8"},
       {"PUFF_BLOCKING_THREADS", "4"},
       {"PUFF_WATCHDOG_MS", "0"},
       {"PUFF_LOG_LEVEL", "error"},
       {"PUFF_BIND", "unix:/tmp/p.sock"},
       {"PUFF_WORKERS", "2"},
       {"PUFF_DJANGO_SETTINGS", "proj.settings"},
       {"PUFF_WSGI", "proj.wsgi.application"}});
  EXPECT_EQ(config.runtime.io_threads, 8);
  EXPECT_EQ(config.runtime.blocking_threads, 4);
  EXPECT_EQ(config.runtime.watchdog_ms, 0);
  EXPECT_EQ(config.runtime.log_level, "error");
  EXPECT_EQ(config.http.bind, "unix:/tmp/p.sock");
  EXPECT_EQ(config.http.workers, 2);
  EXPECT_EQ(config.django_settings, "proj.settings");
  EXPECT_EQ(config.wsgi, "proj.wsgi.application");
}

TEST_F(ConfigTest, EnvironmentPoolUrls) {
  Config config = load_text(
      "[[postgres]]\nname = \"read-replica\"\nurl = \"dbname=a\"\nmax_size = 3\n",
      {{"PUFF_READ_REPLICA_POSTGRES_URL", "postgresql://replica/app"},
       {"PUFF_DEFAULT_POSTGRES_URL", "postgresql://main/app"},
       {"PUFF_SESSIONS_REDIS_URL", "redis://sessions:6380/1"},
       {"PUFF_REDIS_POSTGRES_URL", "dbname=r"}});
  const PostgresConfig* replica = config.find_postgres("read-replica");
  ASSERT_NE(replica, nullptr);
  EXPECT_EQ(replica->url, "postgresql://replica/app");
  EXPECT_EQ(replica->max_size, 3);  // the rest of the entry is kept
  const PostgresConfig* main = config.find_postgres("default");
  ASSERT_NE(main, nullptr);
  EXPECT_EQ(main->url, "postgresql://main/app");
  EXPECT_FALSE(main->implicit);
  const PostgresConfig* named_redis = config.find_postgres("redis");
  ASSERT_NE(named_redis, nullptr);
  EXPECT_EQ(named_redis->url, "dbname=r");
  EXPECT_EQ(config.postgres.size(), 3u);
  const RedisConfig* sessions = config.find_redis("sessions");
  ASSERT_NE(sessions, nullptr);
  EXPECT_EQ(sessions->url, "redis://sessions:6380/1");
  EXPECT_EQ(sessions->pool_size, 4);
  ASSERT_NE(config.find_redis("default"), nullptr);
  EXPECT_TRUE(config.find_redis("default")->implicit);
}

TEST_F(ConfigTest, EnvironmentWithoutFile) {
  Config config = load("", dir_, {{"PUFF_DEFAULT_REDIS_URL", "unix:///run/r.sock"}});
  ASSERT_EQ(config.redis.size(), 1u);
  EXPECT_EQ(config.redis[0].url, "unix:///run/r.sock");
  EXPECT_FALSE(config.redis[0].implicit);
}

TEST_F(ConfigTest, EnvironmentErrors) {
  write("");
  EXPECT_EQ(error_of_load({{"PUFF_IO_THREADS", "abc"}}),
            "PUFF_IO_THREADS: must be an integer 0..256, got \"abc\"");
  EXPECT_EQ(error_of_load({{"PUFF_IO_THREADS", "257"}}),
            "PUFF_IO_THREADS: must be an integer 0..256, got \"257\"");
  EXPECT_EQ(error_of_load({{"PUFF_WORKERS", "2x"}}),
            "PUFF_WORKERS: must be an integer 1..256, got \"2x\"");
  EXPECT_EQ(error_of_load({{"PUFF_LOG_LEVEL", "loud"}}),
            "PUFF_LOG_LEVEL: must be one of debug, info, warning, error, got \"loud\"");
  EXPECT_CONTAINS(error_of_load({{"PUFF_BIND", "nowhere"}}), "PUFF_BIND: \"nowhere\" has no port");
  EXPECT_CONTAINS(error_of_load({{"PUFF_WSGI", "x"}}), "PUFF_WSGI: \"x\" is not a WSGI");
  EXPECT_CONTAINS(error_of_load({{"PUFF_DEFAULT_POSTGRES_URL", "mysql://x"}}),
                  "PUFF_DEFAULT_POSTGRES_URL: unsupported scheme \"mysql\"");
  EXPECT_CONTAINS(error_of_load({{"PUFF_CACHE_REDIS_URL", "redis://"}}),
                  "PUFF_CACHE_REDIS_URL: missing host");
}

TEST_F(ConfigTest, EnvironmentUnknownPoolVariables) {
  write("");
  EXPECT_CONTAINS(error_of_load({{"PUFF_DEFAULT_POSTGRES_MAX_SIZE", "5"}}),
                  "PUFF_DEFAULT_POSTGRES_MAX_SIZE: unknown variable; did you mean "
                  "PUFF_DEFAULT_POSTGRES_URL?");
  EXPECT_CONTAINS(error_of_load({{"PUFF_CACHE_REDIS_URI", "redis://x"}}),
                  "did you mean PUFF_CACHE_REDIS_URL?");
  EXPECT_CONTAINS(error_of_load({{"PUFF_POSTGRES_URL", "dbname=x"}}),
                  "PUFF_POSTGRES_URL: unknown variable; did you mean PUFF_DEFAULT_POSTGRES_URL?");
  // Others are somebody else's: ignored, as are empty values.
  Config config = load("", dir_,
                       {{"PUFF_SOMETHING_ELSE", "1"},
                        {"PUFF_POSTGRES_BINDIR", "/usr/lib/postgresql/15/bin"},
                        {"PUFF_IO_THREADS", ""},
                        {"IO_THREADS", "x"}});
  EXPECT_EQ(config.runtime.io_threads, 0);
}

TEST_F(ConfigTest, EnvironmentCreatesOnlyValidNames) {
  write("");
  EXPECT_CONTAINS(error_of_load({{"PUFF_9X_POSTGRES_URL", "dbname=x"}}),
                  "PUFF_9X_POSTGRES_URL: \"9x\" is not a valid name");
}

TEST_F(ConfigTest, ProcessEnvironmentReadsEnviron) {
  ASSERT_EQ(setenv("PUFF_CONFIG_TEST_VALUE", "a=b", 1), 0);
  Environment env = process_environment();
  unsetenv("PUFF_CONFIG_TEST_VALUE");
  EXPECT_EQ(env["PUFF_CONFIG_TEST_VALUE"], "a=b");
}

// --- helpers -------------------------------------------------------------------------------

TEST(ConfigDetailTest, EditDistanceAndSuggestions) {
  EXPECT_EQ(detail::edit_distance("max_sise", "max_size"), 1u);
  EXPECT_EQ(detail::edit_distance("", "abc"), 3u);
  EXPECT_EQ(detail::edit_distance("kitten", "sitting"), 3u);
  std::array<std::string_view, 3> keys = {"min_size", "max_size", "url"};
  EXPECT_EQ(detail::did_you_mean("MAX_SIZE", keys), "did you mean \"max_size\"?");
  EXPECT_EQ(detail::did_you_mean("timeout", keys), "");
}

TEST(ConfigDetailTest, EnvNameAndPaths) {
  EXPECT_EQ(detail::env_name("read-replica_2"), "READ_REPLICA_2");
  EXPECT_EQ(detail::resolve_path("/a/b", "../c/"), "/a/c");
  EXPECT_EQ(detail::resolve_path("/a/b", "/x/./y"), "/x/y");
  EXPECT_EQ(detail::resolve_path("/a", "."), "/a");
}

}  // namespace
}  // namespace puff::config
