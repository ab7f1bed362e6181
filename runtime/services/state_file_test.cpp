#include "services/state_file.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

namespace puff::services {
namespace {

class StateFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/puff-state-XXXXXX";
    dir_ = mkdtemp(pattern);
    path_ = dir_ + "/services.json";
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  void write_raw(const std::string& text) { std::ofstream(path_) << text; }
  std::string dir_, path_;
};

TEST_F(StateFileTest, RoundTripsThePorts) {
  write_state_file(path_, State{5433, 6380},
                   StateFacts{"postgresql://puff@127.0.0.1:5433/puff", "/d \"quoted\"",
                              "redis://127.0.0.1:6380/0", "/r"});
  State state = read_state_file(path_);
  EXPECT_EQ(state.postgres_port, 5433);
  EXPECT_EQ(state.redis_port, 6380);
  EXPECT_FALSE(std::filesystem::exists(path_ + ".tmp"));
}

TEST_F(StateFileTest, MissingFileIsEmptyState) {
  State state = read_state_file(path_);
  EXPECT_EQ(state.postgres_port, 0);
  EXPECT_EQ(state.redis_port, 0);
}

TEST_F(StateFileTest, CorruptOrTruncatedFileIsEmptyState) {
  for (const char* text : {"", "{", "{\"postgres_port\": ", "not json", "[1, 2]"}) {
    write_raw(text);
    State state = read_state_file(path_);
    EXPECT_EQ(state.postgres_port, 0) << text;
    EXPECT_EQ(state.redis_port, 0) << text;
  }
}

TEST_F(StateFileTest, OutOfRangeOrWrongTypePortsAreIgnored) {
  write_raw("{\"postgres_port\": 70000, \"redis_port\": \"6379\"}");
  State state = read_state_file(path_);
  EXPECT_EQ(state.postgres_port, 0);
  EXPECT_EQ(state.redis_port, 0);
  write_raw("{\"redis_port\": 6379, \"postgres_port\": -5}");
  state = read_state_file(path_);
  EXPECT_EQ(state.postgres_port, 0);
  EXPECT_EQ(state.redis_port, 6379);
}

}  // namespace
}  // namespace puff::services
