// puff.Task: the handle returned by puff.spawn(). One Task is one greenlet on the hub.
#pragma once

#include <functional>
#include <memory>
#include <vector>

#include "python/hub.h"
#include "python/kit/types.h"
#include "python/pyref.h"

namespace puff::python {

struct ThreadSignal;  // a joiner that is an OS thread (blocking pool), see task.cpp

// What a puff.Task owns. Hub thread, GIL held.
struct TaskState {
  PyRef function;   // kept after the run: the task's name comes from it
  PyRef args;       // tuple; released once run
  PyRef kwargs;     // dict or empty; released once run
  PyRef context;    // the contextvars.Context the greenlet runs in
  PyRef greenlet;   // set by the hub when the task starts; dropped once it is dead
  PyRef result;     // the return value once finished
  PyRef exception;  // the exception instance (with __traceback__) if it failed
  PyRef name;       // str, computed on first use
  unsigned long long id = 0;
  bool finished = false;
  bool exception_retrieved = false;  // someone looked at the exception: don't report it
  std::vector<ParkId> joining_greenlets;                    // parked in join()
  std::vector<std::shared_ptr<ThreadSignal>> joining_threads;  // blocked in join()
  std::function<void()> on_finished;  // called once when the task ends
};

using TaskObject = NativeObject<TaskState>;

// Adds the Task type to `module`. Throws ErrorAlreadySet.
void add_task_type(PyObject* module);
bool is_task(PyObject* object);
// A new, not yet started Task. `fresh_context`: run in an empty contextvars.Context (requests,
// the main function) instead of a copy of the caller's (spawn, like asyncio.create_task).
PyRef new_task(PyObject* function, PyObject* args, PyObject* kwargs, bool fresh_context);
// The callable the task's greenlet runs (a bound method); nullptr with an exception set.
PyRef task_entry_point(PyObject* task);
// Runs `callback` on the hub thread when `task` ends (also killed before it started), in the
// task's greenlet just after its joiners are woken; the callback must not throw or wait.
void set_on_finished(PyObject* task, std::function<void()> callback);
// Marks a task that never started as finished with `exception` (it was killed before running).
void finish_unstarted_task(PyObject* task, PyObject* exception);

inline TaskState& task_state(PyObject* task) { return state_of<TaskState>(task); }

}  // namespace puff::python
