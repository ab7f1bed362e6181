// All CPython-version knowledge of the runtime lives here.
// CAUTION: check this file on every CPython minor release.
#pragma once

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#if PY_VERSION_HEX < 0x030B0000
#error "puff needs CPython 3.11 or newer"
#endif

namespace puff::python::compat {

// Python's own exit code for a process killed by an unhandled KeyboardInterrupt is delivered by
// re-raising SIGINT (Modules/main.c, exit_sigint) so shells see "terminated by SIGINT".
inline constexpr int kSigintExitCode = 130;

}  // namespace puff::python::compat

namespace puff::python {
// PyMethodDef stores every signature as PyCFunction; the detour through void(*)() tells the
// compiler the cast is deliberate (-Wcast-function-type).
template <typename Function>
PyCFunction as_method(Function function) {
  return reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(function));
}
}  // namespace puff::python

namespace puff::python::compat {
// PySignal_SetWakeupFd is declared in cpython/pyerrors.h but not exported from libpython
// (3.11), so go through signal.set_wakeup_fd. Main thread only; returns the previous fd, or -1
// (no exception left set) when it cannot be set.
inline int set_signal_wakeup_fd(int fd) {
  PyObject* signal_module = PyImport_ImportModule("signal");
  PyObject* previous =
      signal_module ? PyObject_CallMethod(signal_module, "set_wakeup_fd", "i", fd) : nullptr;
  Py_XDECREF(signal_module);
  long result = previous ? PyLong_AsLong(previous) : -1;
  Py_XDECREF(previous);
  PyErr_Clear();
  return static_cast<int>(result);
}
}  // namespace puff::python::compat

namespace puff::python::compat {
// The pending exception as one instance (its traceback attached), cleared; nullptr when none.
// New reference. 3.12 has PyErr_GetRaisedException; 3.11 fetches and normalizes the triple.
inline PyObject* take_raised_exception() {
#if PY_VERSION_HEX >= 0x030C0000
  return PyErr_GetRaisedException();
#else
  PyObject *type, *value, *traceback;
  PyErr_Fetch(&type, &value, &traceback);
  if (!type) return nullptr;
  PyErr_NormalizeException(&type, &value, &traceback);
  if (traceback) PyException_SetTraceback(value, traceback);
  Py_XDECREF(type);
  Py_XDECREF(traceback);
  return value;
#endif
}

// Makes `exception` (an instance; the reference is stolen) the pending exception.
inline void set_raised_exception(PyObject* exception) {
#if PY_VERSION_HEX >= 0x030C0000
  PyErr_SetRaisedException(exception);
#else
  PyObject* type = Py_NewRef(reinterpret_cast<PyObject*>(Py_TYPE(exception)));
  PyErr_Restore(type, exception, PyException_GetTraceback(exception));
#endif
}
}  // namespace puff::python::compat
