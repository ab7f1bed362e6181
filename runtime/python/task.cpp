#include "python/task.h"

#include <atomic>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <condition_variable>
#include <mutex>

#include "python/greenlet_api.h"
#include "python/kit/types.h"
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
Pinned<PyTypeObject> g_task_type;

void notify_joiners(TaskState& task) {
  Hub* hub = Hub::instance();
  for (ParkId id : task.joining_greenlets) {
    if (hub) hub->wake_on_hub(id);
  }
  task.joining_greenlets.clear();
  for (auto& signal : task.joining_threads) signal->notify();
  task.joining_threads.clear();
}

void finish(PyObject* self, PyRef result, PyRef exception) {
  TaskState& task = task_state(self);
  // The function stays (the task's name comes from it); the arguments go as soon as possible.
  task.args.reset();
  task.kwargs.reset();
  task.result = std::move(result);
  task.exception = std::move(exception);
  task.finished = true;
  PyObject* error = task.exception.get();
  if (error && PyErr_GivenExceptionMatches(error, greenlet::greenlet_exit_type())) {
    task.exception_retrieved = true;  // killed on purpose, not a failure to report
  }
  notify_joiners(task);
  if (std::function<void()> callback = std::exchange(task.on_finished, nullptr)) callback();
  if (Hub* hub = Hub::instance()) hub->task_finished(self, error);
}

// The body of the task's greenlet. Catches everything so that the hub never sees an error.
PyObject* task_run(PyObject* self, PyObject*) {
  TaskState& task = task_state(self);
  if (task.finished) Py_RETURN_NONE;  // killed before it started
  PyRef keep_alive = PyRef::borrow(self);  // task_finished drops the hub's reference
  PyRef result = PyRef::steal(PyObject_Call(task.function.get(), task.args.get(), task.kwargs.get()));
  if (result) {
    finish(self, std::move(result), PyRef());
  } else {
    finish(self, PyRef(), SavedException::fetch().value);
  }
  Py_RETURN_NONE;
}

// Waits until the task finishes or `timeout_s` (< 0: forever) passes. Returns 1 finished,
// 0 timed out, -1 with an exception set.
int wait_for_task(TaskState& task, double timeout_s) {
  if (task.finished) return 1;
  Hub* hub = Hub::instance();
  if (hub && hub->in_task()) {
    if (task.greenlet) {
      PyRef self = greenlet::current();
      if (self.get() == task.greenlet.get()) {
        PyErr_SetString(PyExc_RuntimeError, "a puff task cannot join itself");
        return -1;
      }
    }
    ParkId id = hub->new_park_id();
    task.joining_greenlets.push_back(id);
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
    while (!task.finished) {
      if (!hub->park(id)) {
        outcome = -1;
        break;
      }
      if (!task.finished && timed_out->load()) {
        outcome = 0;
        break;
      }
    }
    auto& ids = task.joining_greenlets;
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
  task.joining_threads.push_back(signal);
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
  std::erase(task.joining_threads, signal);
  return done || task.finished ? 1 : 0;
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
  TaskState& task = task_state(self);
  int outcome = wait_for_task(task, timeout_s);
  if (outcome < 0) return nullptr;
  if (outcome == 0) {
    PyErr_Format(PyExc_TimeoutError, "puff task %R did not finish within %g s", self, timeout_s);
    return nullptr;
  }
  if (task.exception) {
    task.exception_retrieved = true;
    SavedException{task.exception}.restore();
    return nullptr;
  }
  return Py_NewRef(task.result.get());
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
  int outcome = wait_for_task(task_state(self), timeout_s);
  if (outcome < 0) return nullptr;
  return PyBool_FromLong(outcome);
}

PyObject* get_finished(PyObject* self, void*) { return PyBool_FromLong(task_state(self).finished); }
PyObject* get_result(PyObject* self, void*) {
  PyObject* result = task_state(self).result.get();
  return Py_NewRef(result ? result : Py_None);
}
PyObject* get_exception(PyObject* self, void*) {
  TaskState& task = task_state(self);
  if (!task.exception) Py_RETURN_NONE;
  task.exception_retrieved = true;
  return Py_NewRef(task.exception.get());
}
PyRef qualified_name(PyObject* function);

// The name is computed on first use: most tasks are never named, and spawn is a hot path.
PyObject* task_name(TaskState& task) {
  if (!task.name) task.name = qualified_name(task.function.get());
  return task.name.get();
}

PyObject* get_name(PyObject* self, void*) {
  PyObject* name = task_name(task_state(self));
  return name ? Py_NewRef(name) : nullptr;
}
PyObject* get_id(PyObject* self, void*) { return PyLong_FromUnsignedLongLong(task_state(self).id); }

PyObject* task_repr(PyObject* self) {
  TaskState& task = task_state(self);
  const char* state = !task.finished ? "running" : task.exception ? "failed" : "finished";
  PyObject* name = task_name(task);
  if (!name) return nullptr;
  return PyUnicode_FromFormat("<puff.Task #%llu %U %s>", task.id, name, state);
}

int task_traverse(PyObject* self, visitproc visit, void* arg) {
  Py_VISIT(Py_TYPE(self));  // instances of heap types hold their type
  TaskState* task = reinterpret_cast<TaskObject*>(self)->state;
  if (!task) return 0;
  for (const PyRef* member : {&task->function, &task->args, &task->kwargs, &task->context,
                              &task->greenlet, &task->result, &task->exception}) {
    Py_VISIT(member->get());
  }
  return 0;
}

int task_clear(PyObject* self) {
  TaskState* task = reinterpret_cast<TaskObject*>(self)->state;
  if (!task) return 0;
  for (PyRef* member : {&task->function, &task->args, &task->kwargs, &task->context,
                        &task->greenlet, &task->result, &task->exception}) {
    member->reset();
  }
  return 0;
}

// An exception nobody looked at is printed when the task goes away: errors never vanish.
void task_finalize(PyObject* self) {
  TaskState& task = task_state(self);
  if (!task.exception || task.exception_retrieved) return;
  SavedException pending = SavedException::fetch();
  PyRef repr = PyRef::steal(PyObject_Repr(self));
  PySys_FormatStderr("puff: %S failed and was never joined:\n", repr ? repr.get() : Py_None);
  PyObject* error = task.exception.get();
  PyRef traceback = PyRef::steal(PyException_GetTraceback(error));
  PyErr_Display(reinterpret_cast<PyObject*>(Py_TYPE(error)), error, traceback.get());
  PyErr_Clear();
  if (pending.value) pending.restore();
}

void task_dealloc(PyObject* self) {
  if (PyObject_CallFinalizerFromDealloc(self) < 0) return;  // resurrected
  PyObject_GC_UnTrack(self);
  PyTypeObject* type = Py_TYPE(self);
  delete std::exchange(reinterpret_cast<TaskObject*>(self)->state, nullptr);
  count_died(type);
  type->tp_free(self);
  Py_DECREF(type);
}

PyMethodDef task_methods[] = {
    method<task_join, METH_VARARGS | METH_KEYWORDS>(
        "join", "join(timeout=None): wait for the task; return its result or raise its exception "
                "(TimeoutError when the timeout passes first)."),
    method<task_wait, METH_VARARGS | METH_KEYWORDS>(
        "wait", "wait(timeout=None) -> bool: wait for the task without raising its exception."),
    kEndMethods};

PyGetSetDef task_getset[] = {
    getter<get_finished>("finished", "True once the task returned or raised."),
    getter<get_result>("result", "The return value once finished (else None)."),
    getter<get_exception>("exception", "The exception it raised, or None."),
    getter<get_name>("name", "The spawned function's qualified name."),
    getter<get_id>("id", "A number unique in this process."),
    kEndGetters};

PyType_Slot task_slots[] = {
    {Py_tp_doc, const_cast<char*>("A function running in its own greenlet on the puff hub "
                                  "(returned by puff.spawn).")},
    slot<Py_tp_dealloc, task_dealloc>(),
    slot<Py_tp_finalize, task_finalize>(),
    slot<Py_tp_traverse, task_traverse>(),
    slot<Py_tp_clear, task_clear>(),
    slot<Py_tp_repr, task_repr>(),
    {Py_tp_methods, task_methods},
    {Py_tp_getset, task_getset},
    {0, nullptr}};

PyType_Spec task_spec = {"puff.Task", sizeof(TaskObject), 0,
                         Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC |
                             Py_TPFLAGS_DISALLOW_INSTANTIATION,
                         task_slots};

PyRef qualified_name(PyObject* function) {
  if (!function) return PyRef::steal(PyUnicode_FromString("?"));
  PyRef name = PyRef::steal(PyObject_GetAttrString(function, "__qualname__"));
  if (name && PyUnicode_Check(name.get())) return name;
  PyErr_Clear();
  return PyRef::steal(PyObject_Repr(function));
}

}  // namespace

void add_task_type(PyObject* module) { add_type(module, "Task", task_spec, g_task_type); }

bool is_task(PyObject* object) { return g_task_type && PyObject_TypeCheck(object, g_task_type.get()); }

PyRef new_task(PyObject* function, PyObject* args, PyObject* kwargs, bool fresh_context) {
  PyRef context = PyRef::steal(fresh_context ? PyContext_New() : PyContext_CopyCurrent());
  if (!context) return {};
  TaskObject* task = PyObject_GC_New(TaskObject, g_task_type.get());
  if (!task) return {};
  task->state = new TaskState;
  count_born(g_task_type.get());
  TaskState& state = *task->state;
  state.function = PyRef::borrow(function);
  state.args = PyRef::borrow(args);
  state.kwargs = PyRef::borrow(kwargs);
  state.context = std::move(context);
  state.id = g_next_task_id++;
  PyObject_GC_Track(task);
  return PyRef::steal(reinterpret_cast<PyObject*>(task));
}

PyRef task_entry_point(PyObject* task) {
  // A C function bound to the task directly: cheaper than looking up the `_run` method.
  static PyMethodDef run_def = method<task_run, METH_NOARGS>("_run", nullptr);
  return PyRef::steal(PyCFunction_New(&run_def, task));
}

void set_on_finished(PyObject* task, std::function<void()> callback) {
  task_state(task).on_finished = std::move(callback);
}

void finish_unstarted_task(PyObject* task, PyObject* exception) {
  if (task_state(task).finished) return;
  finish(task, PyRef(), PyRef::borrow(exception));
}

}  // namespace puff::python
