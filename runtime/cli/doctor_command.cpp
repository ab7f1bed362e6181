// `puff doctor`: one line per check, "ok   what: facts" or "FAIL what: problem; what to do".
#include <CLI/CLI.hpp>
#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <sstream>

#include "cli/commands.h"
#include "core/paths.h"
#include "pg/probe.h"
#include "redis/probe.h"
#include "services/process.h"
#include "services/services.h"

namespace puff::cli {
namespace {

constexpr double kPythonTimeout = 30.0;
constexpr double kMaxProbeTimeout = 10.0;

class Report {
 public:
  explicit Report(std::ostream& out) : out_(out) {}
  void ok(const std::string& what, const std::string& facts) {
    out_ << "ok   " << what << ": " << facts << "\n";
  }
  void fail(const std::string& what, const std::string& problem) {
    out_ << "FAIL " << what << ": " << problem << "\n";
    ++failures_;
  }
  int exit_code() const { return failures_ == 0 ? 0 : 1; }

 private:
  std::ostream& out_;
  int failures_ = 0;
};

// Prints the interpreter's version, then each package's version or why it did not import.
constexpr const char* kPythonScript = R"(import sys
print("python", sys.version.split()[0])
for name in ("greenlet", "django"):
    try:
        module = __import__(name)
        version = module.get_version() if name == "django" else module.__version__
        print(name, version)
    except Exception as e:
        reason = (str(e).splitlines() or [""])[0]
        print(name + "!", type(e).__name__ + (": " + reason if reason else ""))
)";

void check_python(const PythonFacts& python, Report& report) {
  if (!python.problem.empty()) {
    report.fail("python", python.problem);
    return;
  }
  services::RunResult run =
      services::run_command({python.executable, "-c", kPythonScript}, {.timeout_s = kPythonTimeout});
  std::string version;
  std::vector<std::pair<std::string, std::string>> packages;  // name, version or "!reason"
  std::istringstream lines(run.output);
  for (std::string line; std::getline(lines, line);) {
    auto space = line.find(' ');
    if (space == std::string::npos) continue;
    std::string key = line.substr(0, space);
    std::string value = services::trim(line.substr(space + 1));
    if (key == "python") {
      version = value;
    } else if (key == "greenlet" || key == "django") {
      packages.emplace_back(key, value);
    } else if (key == "greenlet!" || key == "django!") {
      packages.emplace_back(key.substr(0, key.size() - 1), "!" + value);
    }
  }
  if (!run.ok() || version.empty()) {
    // A traceback's last line names the exception.
    std::string last_line = services::trim(run.output);
    last_line = last_line.substr(last_line.find_last_of('\n') + 1);
    std::string why = !run.error.empty()  ? run.error
                      : run.timed_out     ? "no answer within 30s"
                      : last_line.empty() ? "exit status " + std::to_string(run.exit_code)
                                          : last_line;
    report.fail("python", python.executable + " does not run: " + why);
    return;
  }
  std::string where = python.venv.empty() ? "no virtualenv" : "venv " + python.venv;
  if (!python.how_found.empty()) where += ", " + python.how_found;
  report.ok("python", python.executable + " (" + version + "; " + where + ")");
  for (const auto& [name, result] : packages) {
    if (result.empty() || result[0] != '!') {
      report.ok(name, result);
    } else {
      report.fail(name, "cannot be imported by " + python.executable + " (" + result.substr(1) +
                            "); install it with `" + python.executable + " -m pip install " +
                            name + "`");
    }
  }
}

std::string env_name(const std::string& name) {
  std::string out = name;
  for (char& c : out) c = c == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

// Where an entry's URL came from, for the reader who wants to change it.
std::string origin(const config::Config& config, const std::string& kind, const std::string& name,
                   const std::string& url, bool implicit) {
  std::vector<std::string> variables = {"PUFF_" + env_name(name) + "_" + kind + "_URL"};
  if (name == "default") variables.push_back("PUFF_" + kind + "_URL");
  for (const auto& variable : variables) {
    const char* value = std::getenv(variable.c_str());
    if (value && url == value) return "url from " + variable;
  }
  if (implicit) return "default, not configured";
  if (!config.source_path.empty()) {
    return "url from " + std::filesystem::path(config.source_path).filename().string();
  }
  return "url from the defaults";
}

double probe_timeout(double configured) {
  return std::clamp(configured, 1.0, kMaxProbeTimeout);
}

void check_postgres(const config::Config& config, const config::PostgresConfig& pg,
                    Report& report) {
  const std::string what = "postgres " + pg.name;
  const std::string from = " (" + origin(config, "POSTGRES", pg.name, pg.url, pg.implicit) + ")";
  std::string url = pg.url;
  if (url == config::kEmbeddedUrl) {
    try {
      url = resolve_postgres_url(config, pg);
    } catch (const std::exception&) {
      report.fail(what, "embedded service is not running; start it with `puff services up`" + from);
      return;
    }
  }
  pg::ProbeResult probe = pg::probe(url, probe_timeout(pg.connect_timeout_s));
  if (probe.ok) {
    report.ok(what, probe.message + from);
  } else {
    report.fail(what, probe.message + from);
  }
}

void check_redis(const config::Config& config, const config::RedisConfig& redis,
                 Report& report) {
  const std::string what = "redis " + redis.name;
  const std::string from = " (" + origin(config, "REDIS", redis.name, redis.url, redis.implicit) + ")";
  std::string url = redis.url;
  if (url == config::kEmbeddedUrl) {
    try {
      url = resolve_redis_url(config, redis);
    } catch (const std::exception&) {
      report.fail(what, "embedded service is not running; start it with `puff services up`" + from);
      return;
    }
  }
  redis::ProbeResult probe = redis::probe(url, probe_timeout(redis.connect_timeout_s));
  if (probe.ok) {
    report.ok(what, probe.message + from);
  } else {
    report.fail(what, probe.message + from);
  }
}

PythonFacts facts_of(const python::PythonEnvironment& env) {
  return {env.venv, env.executable, env.how_found, env.problem};
}

}  // namespace

int run_doctor(const config::Config& config, const PythonFacts& python, std::ostream& out) {
  Report report(out);
  check_python(python, report);
  for (const auto& pg : config.postgres) check_postgres(config, pg, report);
  for (const auto& redis : config.redis) check_redis(config, redis, report);
  return report.exit_code();
}

Command doctor_command() {
  return {.add =
              [](CLI::App& app) {
                return app.add_subcommand("doctor", "Check Python, the virtualenv and every "
                                                    "configured backend, one line per check");
              },
          .run =
              [](const Invocation& invocation) {
                return run_doctor(invocation.context->config,
                                  facts_of(invocation.context->python), std::cout);
              }};
}

}  // namespace puff::cli
