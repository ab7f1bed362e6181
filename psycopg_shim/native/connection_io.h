// Where the shim's connections do their IO: the hub's IO threads inside puff, else one private
// IO thread started on first use (plain python). IO threads never run Python.
#pragma once

#include <boost/asio/io_context.hpp>

namespace puff::psycopg {

boost::asio::io_context& connection_io();

}  // namespace puff::psycopg
