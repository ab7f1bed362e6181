#include "python/task.h"

#include <atomic>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <condition_variable>
#include <mutex>

#include "python/greenlet_api.h"
#include "python/wait.h"

namespace puff::python {

struct ThreadSignal {
  std::mutex mutex;
  std::condition_variable finished;
  bool done = false;
  void notify() {
    std::lock_guard<std::mutex> lock(mutex);
    done = true;
    finished.notify_all();
  }
};

namespace {

std::atomic<unsigned long long> g_next_task_id{1};
PyTypeObject* g_task_type = nullptr;

void notify_joiners(TaskObject* task) {
  Hub* hub = Hub::instance();
  for (ParkId id : *task->joining_greenlets) {
    if (hub) hub->wake_on_hub(id);
  }
  task->joining_greenlets->clear();
  for (auto& signal : *task->joining_threads) signal->notify();
  task->joining_threads->clear();
}

void finish(TaskObject* task, PyObject* result, PyObject* exception) {
  // The function stays (the task's name comes from it); the arguments go as soon as possible.
  Py_CLEAR(task->args);
  Py_CLEAR(task->kwargs);
  task->result = result;        // steals
  task->exception = exception;  // steals
  task->finished = true;
  if (exception && PyErr_GivenExceptionMatches(exception, greenlet::greenlet_exit_type())) {
    task->exception_retrieved = true;  // killed on purpose, not a failure to report
  }
  notify_joiners(task);
  if (task->on_finished) {
    std::unique_ptr<std::function<void()>> callback(task->on_finished);
    task->on_finished = nullptr;
    (*callback)();
  }
  if (Hub* hub = Hub::instance()) {
    hub->task_finished(reinterpret_cast<PyObject*>(task), exception);
  }
}

// The body of the task's greenlet. Catches everything so that the hub never sees an error.
PyObject* task_run(PyObject* self, PyObject*) {
  TaskObject* task = as_task(self);
  if (task->finished) Py_RETURN_NONE;  // killed before it started
  PyRef keep_alive = PyRef::borrow(self);  // task_finished drops the hub's reference
  PyObject* result = PyObject_Call(task->function, task->args, task->kwargs);
  if (result) {
    finish(task, result, nullptr);
  } else {
    finish(task, nullptr, SavedException::fetch().value.release());
  }
  Py_RETURN_NONE;
}

// Waits until the task finishes or `timeout_s` (< 0: forever) passes. Returns 1 finished,
// 0 timed out, -1 with an exception set.
int wait_for_task(TaskObject* task, double timeout_s) {
  if (task->finished) return 1;
  Hub* hub = Hub::instance();
  if (hub && hub->in_task()) {
    if (task->greenlet) {
      PyRef self = greenlet::current();
      if (self.get() == task->greenlet) {
        PyErr_SetString(PyExc_RuntimeError, "a puff task cannot join itself");
        return -1;
      }
    }
    ParkId id = hub->new_park_id();
    task->joining_greenlets->push_back(id);
    std::shared_ptr<boost::asio::steady_timer> timer;
    auto timed_out = std::make_shared<std::atomic<bool>>(false);
    if (timeout_s >= 0) {
      timer = std::make_shared<boost::asio::steady_timer>(
          hub->io().context(), to_timer_duration(timeout_s));
      timer->async_wait([hub, id, timed_out](const boost::system::error_code& ec) {
        if (ec) return;
        timed_out->store(true);
        hub->wake(id);
      });
    }
    int outcome = 1;
    while (!task->finished) {
      if (!hub->park(id)) {
        outcome = -1;
        break;
      }
      if (!task->finished && timed_out->load()) {
        outcome = 0;
        break;
      }
    }
    auto& ids = *task->joining_greenlets;
    std::erase(ids, id);
    if (timer) boost::asio::post(hub->io().context(), [timer] { timer->cancel(); });
    return outcome;
  }
  if (hub && hub->running() && hub->on_hub_thread()) {
    PyErr_SetString(PyExc_RuntimeError,
                    "cannot join a puff task from the hub itself (e.g. a signal handler)");
    return -1;
  }
  if (!hub || !hub->running()) {
    PyErr_SetString(PyExc_RuntimeError, "the puff hub is not running: this task cannot finish");
    return -1;
  }
  // Another thread (a blocking-pool thread): block it with the GIL released.
  auto signal = std::make_shared<ThreadSignal>();
  task->joining_threads->push_back(signal);
  bool done;
  {
    GilRelease released;
    std::unique_lock<std::mutex> lock(signal->mutex);
    if (timeout_s < 0) {
      signal->finished.wait(lock, [&] { return signal->done; });
      done = true;
    } else {
      done = signal->finished.wait_for(lock, to_timer_duration(timeout_s),
                                       [&] { return signal->done; });
    }
  }
  std::erase(*task->joining_threads, signal);
  return done || task->finished ? 1 : 0;
}

bool parse_timeout(PyObject* timeout_object, double* timeout_s) {
  *timeout_s = -1;
  if (!timeout_object || timeout_object == Py_None) return true;
  double value = PyFloat_AsDouble(timeout_object);
  if (value == -1 && PyErr_Occurred()) return false;
  if (value < 0 || value != value) {
    PyErr_SetString(PyExc_ValueError, "timeout must be a non-negative number or None");
    return false;
  }
  *timeout_s = value;
  return true;
}

PyObject* task_join(PyObject* self, PyObject* args, PyObject* kwargs) {
  static const char* keywords[] = {"timeout", nullptr};
  PyObject* timeout_object = nullptr;
  if (!PyArg_ParseTupleAndKeywords(args, kwargs, "|O:join", const_cast<char**>(keywords),
                                   &timeout_object)) {
    return nullptr;
  }
  double timeout_s;
  if (!parse_timeout(timeout_object, &timeout_s)) return nullptr;
  TaskObject* task = as_task(self);
  int outcome = wait_for_task(task, timeout_s);
  if (outcome < 0) return nullptr;
  if (outcome == 0) {
    PyErr_Format(PyExc_TimeoutError, "puff task %R did not finish within %g s", self, timeout_s);
    return nullptr;
  }
  if (task->exception) {
    task->exception_retrieved = true;
    SavedException{PyRef::borrow(task->exception)}.restore();
    return nullptr;
  }
  return Py_NewRef(task->result);
}

// join() without raising the task's exception: True when finished (join_all uses it).
PyObject* task_wait(PyObject* self, PyObject* args, PyObject* kwargs) {
  static const char* keywords[] = {"timeout", nullptr};
  PyObject* timeout_object = nullptr;
  if (!PyArg_ParseTupleAndKeywords(args, kwargs, "|O:wait", const_cast<char**>(keywords),
                                   &timeout_object)) {
    return nullptr;
  }
  double timeout_s;
  if (!parse_timeout(timeout_object, &timeout_s)) return nullptr;
  int outcome = wait_for_task(as_task(self), timeout_s);
  if (outcome < 0) return nullptr;
  return PyBool_FromLong(outcome);
}

PyObject* get_finished(PyObject* self, void*) { return PyBool_FromLong(as_task(self)->finished); }
PyObject* get_result(PyObject* self, void*) {
  TaskObject* task = as_task(self);
  return Py_NewRef(task->result ? task->result : Py_None);
}
PyObject* get_exception(PyObject* self, void*) {
  TaskObject* task = as_task(self);
  if (!task->exception) Py_RETURN_NONE;
  task->exception_retrieved = true;
  return Py_NewRef(task->exception);
}
PyRef qualified_name(PyObject* function);

// The name is computed on first use: most tasks are never named, and spawn is a hot path.
PyObject* task_name(TaskObject* task) {
  if (!task->name) task->name = qualified_name(task->function).release();
  return task->name;
}

PyObject* get_name(PyObject* self, void*) {
  PyObject* name = task_name(as_task(self));
  return name ? Py_NewRef(name) : nullptr;
}
PyObject* get_id(PyObject* self, void*) { return PyLong_FromUnsignedLongLong(as_task(self)->id); }

PyObject* task_repr(PyObject* self) {
  TaskObject* task = as_task(self);
  const char* state = !task->finished ? "running" : task->exception ? "failed" : "finished";
  PyObject* name = task_name(task);
  if (!name) return nullptr;
  return PyUnicode_FromFormat("<puff.Task #%llu %U %s>", task->id, name, state);
}

int task_traverse(PyObject* self, visitproc visit, void* arg) {
  TaskObject* task = as_task(self);
  Py_VISIT(task->function);
  Py_VISIT(task->args);
  Py_VISIT(task->kwargs);
  Py_VISIT(task->context);
  Py_VISIT(task->greenlet);
  Py_VISIT(task->result);
  Py_VISIT(task->exception);
  return 0;
}

int task_clear(PyObject* self) {
  TaskObject* task = as_task(self);
  Py_CLEAR(task->function);
  Py_CLEAR(task->args);
  Py_CLEAR(task->kwargs);
  Py_CLEAR(task->context);
  Py_CLEAR(task->greenlet);
  Py_CLEAR(task->result);
  Py_CLEAR(task->exception);
  return 0;
}

// An exception nobody looked at is printed when the task goes away: errors never vanish.
void task_finalize(PyObject* self) {
  TaskObject* task = as_task(self);
  if (!task->exception || task->exception_retrieved) return;
  PyObject *type, *value, *traceback;
  PyErr_Fetch(&type, &value, &traceback);
  PyObject* repr = PyObject_Repr(self);
  PySys_FormatStderr("puff: %S failed and was never joined:\n", repr ? repr : Py_None);
  Py_XDECREF(repr);
  PyObject* tb = PyException_GetTraceback(task->exception);
  PyErr_Display(reinterpret_cast<PyObject*>(Py_TYPE(task->exception)), task->exception, tb);
  Py_XDECREF(tb);
  PyErr_Restore(type, value, traceback);
}

void task_dealloc(PyObject* self) {
  if (PyObject_CallFinalizerFromDealloc(self) < 0) return;  // resurrected
  PyObject_GC_UnTrack(self);
  task_clear(self);
  TaskObject* task = as_task(self);
  Py_CLEAR(task->name);
  delete task->joining_greenlets;
  delete task->joining_threads;
  delete task->on_finished;
  Py_TYPE(self)->tp_free(self);
}

PyMethodDef task_methods[] = {
    {"join", as_method(task_join), METH_VARARGS | METH_KEYWORDS,
     "join(timeout=None): wait for the task; return its result or raise its exception "
     "(TimeoutError when the timeout passes first)."},
    {"wait", as_method(task_wait), METH_VARARGS | METH_KEYWORDS,
     "wait(timeout=None) -> bool: wait for the task without raising its exception."},
    {nullptr, nullptr, 0, nullptr}};

PyGetSetDef task_getset[] = {
    {"finished", get_finished, nullptr, "True once the task returned or raised.", nullptr},
    {"result", get_result, nullptr, "The return value once finished (else None).", nullptr},
    {"exception", get_exception, nullptr, "The exception it raised, or None.", nullptr},
    {"name", get_name, nullptr, "The spawned function's qualified name.", nullptr},
    {"id", get_id, nullptr, "A number unique in this process.", nullptr},
    {nullptr, nullptr, nullptr, nullptr, nullptr}};

PyType_Slot task_slots[] = {
    {Py_tp_doc, const_cast<char*>("A function running in its own greenlet on the puff hub "
                                  "(returned by puff.spawn).")},
    {Py_tp_dealloc, reinterpret_cast<void*>(task_dealloc)},
    {Py_tp_finalize, reinterpret_cast<void*>(task_finalize)},
    {Py_tp_traverse, reinterpret_cast<void*>(task_traverse)},
    {Py_tp_clear, reinterpret_cast<void*>(task_clear)},
    {Py_tp_repr, reinterpret_cast<void*>(task_repr)},
    {Py_tp_methods, task_methods},
    {Py_tp_getset, task_getset},
    {0, nullptr}};

PyType_Spec task_spec = {"puff.Task", sizeof(TaskObject), 0,
                         Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC, task_slots};

PyRef qualified_name(PyObject* function) {
  if (!function) return PyRef::steal(PyUnicode_FromString("?"));
  PyRef name = PyRef::steal(PyObject_GetAttrString(function, "__qualname__"));
  if (name && PyUnicode_Check(name.get())) return name;
  PyErr_Clear();
  return PyRef::steal(PyObject_Repr(function));
}

}  // namespace

bool add_task_type(PyObject* module) {
  PyObject* type = PyType_FromSpec(&task_spec);
  if (!type) return false;
  g_task_type = reinterpret_cast<PyTypeObject*>(type);
  return PyModule_AddObjectRef(module, "Task", type) == 0;
}

bool is_task(PyObject* object) { return g_task_type && PyObject_TypeCheck(object, g_task_type); }

PyRef new_task(PyObject* function, PyObject* args, PyObject* kwargs, bool fresh_context) {
  PyRef context = PyRef::steal(fresh_context ? PyContext_New() : PyContext_CopyCurrent());
  if (!context) return {};
  TaskObject* task = PyObject_GC_New(TaskObject, g_task_type);
  if (!task) return {};
  task->function = Py_NewRef(function);
  task->args = Py_NewRef(args);
  task->kwargs = Py_XNewRef(kwargs);
  task->context = context.release();
  task->greenlet = nullptr;
  task->result = nullptr;
  task->exception = nullptr;
  task->name = nullptr;
  task->id = g_next_task_id++;
  task->finished = false;
  task->exception_retrieved = false;
  task->joining_greenlets = new std::vector<ParkId>();
  task->joining_threads = new std::vector<std::shared_ptr<ThreadSignal>>();
  task->on_finished = nullptr;
  PyObject_GC_Track(task);
  return PyRef::steal(reinterpret_cast<PyObject*>(task));
}

PyRef task_entry_point(TaskObject* task) {
  // A C function bound to the task directly: cheaper than looking up the `_run` method.
  static PyMethodDef run_def = {"_run", task_run, METH_NOARGS, nullptr};
  return PyRef::steal(PyCFunction_New(&run_def, reinterpret_cast<PyObject*>(task)));
}

void set_on_finished(TaskObject* task, std::function<void()> callback) {
  delete task->on_finished;
  task->on_finished = new std::function<void()>(std::move(callback));
}

void finish_unstarted_task(TaskObject* task, PyObject* exception) {
  if (task->finished) return;
  finish(task, nullptr, Py_NewRef(exception));
}

}  // namespace puff::python
