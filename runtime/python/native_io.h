// Where native clients (the psycopg2 driver, the Redis client) do their IO: the hub's IO threads
// inside puff, else one private IO thread started on first use (plain python). IO threads never
// run Python.
#pragma once

#include <boost/asio/io_context.hpp>

namespace puff::python {

boost::asio::io_context& native_io();

// Counts the fork()s this process is the child of: a client made before a fork compares unequal
// in the child (cheaper than a getpid() syscall per operation), and refuses to work there.
unsigned fork_generation();

}  // namespace puff::python
