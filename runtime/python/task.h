// puff.Task: the handle returned by puff.spawn(). One Task is one greenlet on the hub.
#pragma once

#include <functional>
#include <memory>
#include <vector>

#include "python/hub.h"
#include "python/pyref.h"

namespace puff::python {

struct ThreadSignal;  // a joiner that is an OS thread (blocking pool), see task.cpp

struct TaskObject {
  PyObject_HEAD
  PyObject* function;    // owned; cleared once run
  PyObject* args;        // owned tuple; cleared once run
  PyObject* kwargs;      // owned dict or nullptr; cleared once run
  PyObject* context;     // owned contextvars.Context the greenlet runs in
  PyObject* greenlet;    // owned; set by the hub when the task starts
  PyObject* result;      // owned; the return value once finished
  PyObject* exception;   // owned; the exception instance (with __traceback__) if it failed
  PyObject* name;        // owned str, for repr and the watchdog
  unsigned long long id;
  bool finished;
  bool exception_retrieved;  // someone looked at the exception: don't report it at dealloc
  std::vector<ParkId>* joining_greenlets;                    // parked in join()
  std::vector<std::shared_ptr<ThreadSignal>>* joining_threads;  // blocked in join()
  std::function<void()>* on_finished;  // owned or nullptr; called once when the task ends
};

// Adds the Task type to `module`; false with an exception set on failure.
bool add_task_type(PyObject* module);
bool is_task(PyObject* object);
// A new, not yet started Task. `fresh_context`: run in an empty contextvars.Context (requests,
// the main function) instead of a copy of the caller's (spawn, like asyncio.create_task).
PyRef new_task(PyObject* function, PyObject* args, PyObject* kwargs, bool fresh_context);
// The callable the task's greenlet runs (a bound method); nullptr with an exception set.
PyRef task_entry_point(TaskObject* task);
// Runs `callback` on the hub thread when `task` ends (also killed before it started), in the
// task's greenlet just after its joiners are woken; the callback must not throw or wait.
void set_on_finished(TaskObject* task, std::function<void()> callback);
// Marks a task that never started as finished with `exception` (it was killed before running).
void finish_unstarted_task(TaskObject* task, PyObject* exception);

inline TaskObject* as_task(PyObject* object) { return reinterpret_cast<TaskObject*>(object); }

}  // namespace puff::python
