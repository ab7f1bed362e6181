// `puff services up|down|status`, and resolving the URL "embedded" to the running service.
#include <CLI/CLI.hpp>
#include <iostream>
#include <memory>
#include <stdexcept>

#include "cli/commands.h"
#include "core/paths.h"
#include "services/services.h"

namespace puff::cli {
namespace {

// [services] dir, resolved against the project directory when relative.
std::string services_dir(const config::Config& config) {
  std::string base = config.project_dir.empty() ? core::current_directory() : config.project_dir;
  return core::absolute_path(config.services.dir, base);
}

void print_status(const services::ServiceStatus& status, std::ostream& out) {
  if (status.running) {
    out << status.name << ": running at " << status.url << " (" << status.detail << ")\n";
  } else {
    out << status.name << ": " << status.detail << "\n";
  }
}

}  // namespace

int run_services(const config::Config& config, const std::string& action, std::ostream& out,
                 std::ostream& err) {
  if (action != "up" && action != "down" && action != "status") {
    err << "puff services: unknown action \"" << action << "\"; use up, down or status\n";
    return 2;
  }
  services::Services services(services_dir(config));
  try {
    if (action == "up") {
      services.up(out);
      auto postgres = services.postgres_url();
      auto redis = services.redis_url();
      out << "\nurl = \"embedded\" in puff.toml (the default) connects to:\n"
          << "  postgres: " << postgres.value_or("(not answering)") << "\n"
          << "  redis:    " << redis.value_or("(not answering)") << "\n";
      return postgres && redis ? 0 : 1;
    }
    if (action == "down") {
      services.down(out);
      return 0;
    }
    auto postgres = services.postgres_status();
    auto redis = services.redis_status();
    print_status(postgres, out);
    print_status(redis, out);
    if (postgres.running && redis.running) return 0;
    out << "start them with `puff services up`\n";
    return 3;
  } catch (const services::ServiceError& e) {
    err << "puff services: " << e.what() << "\n";
    return 1;
  } catch (const std::exception& e) {
    // Filesystem errors and the like: still one line, still actionable by the reader.
    err << "puff services: " << e.what() << "\n";
    return 1;
  }
}

Command services_command() {
  auto action = std::make_shared<std::string>();
  return {.add =
              [action](CLI::App& app) {
                auto* command = app.add_subcommand("services", "Embedded dev PostgreSQL and Redis "
                                                               "under .puff/: up, down or status");
                command->add_option("action", *action, "up | down | status")
                    ->required()
                    ->check(CLI::IsMember({"up", "down", "status"}));
                return command;
              },
          .run =
              [action](const Invocation& invocation) {
                return run_services(invocation.context->config, *action, std::cout, std::cerr);
              }};
}

std::string resolve_postgres_url(const config::Config& config, const config::PostgresConfig& pg) {
  if (pg.url != config::kEmbeddedUrl) return pg.url;
  auto url = services::Services(services_dir(config)).postgres_url();
  if (!url) {
    throw std::runtime_error("postgres \"" + pg.name +
                             "\" uses the embedded PostgreSQL, which is not running; start it "
                             "with `puff services up`");
  }
  return *url;
}

std::string resolve_redis_url(const config::Config& config, const config::RedisConfig& redis) {
  if (redis.url != config::kEmbeddedUrl) return redis.url;
  auto url = services::Services(services_dir(config)).redis_url();
  if (!url) {
    throw std::runtime_error("redis \"" + redis.name +
                             "\" uses the embedded Redis, which is not running; start it with "
                             "`puff services up`");
  }
  return *url;
}

}  // namespace puff::cli
