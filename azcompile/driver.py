"""The evaluation driver (azcompile/driver.py, copied unmodified into each generated kernel).

Semantics of the reference executor: Setup once; per training example Predict, normalise,
check the error, Learn; after each epoch a validation pass; the fitness is the best
validation fitness over epochs.  Shared by the interpreter and every compiled candidate:
the generator writes the module's own ``run_component(program, comp, registers, seed, call,
F)`` (the interpreter's dispatch, or the candidate's three components) and then this text,
so numba inlines that module's components into its driver.  Imported on its own, this
module drives the interpreter (for reading, linting and testing it).
"""
import numpy as np
from numba import njit

from azcompile.eval_type import EvalType
from azcompile.kernel_args import (CALLS, LEARN_CALLS, STEPS_DONE, TRAIN_ERRORS_RECORDED,
                                   VALID_ERRORS_RECORDED)

if "run_component" not in globals():   # this module on its own, not copied into a kernel
    from azcompile._interp_kernel import run_component

_RMS_ERROR = int(EvalType.RMS_ERROR)
_ACCURACY = int(EvalType.ACCURACY)
_MULTICLASS = int(EvalType.MULTICLASS)
_SQUASH = -0.63661977236758138243  # -2 / pi


@njit(cache=True, error_model="numpy", inline="always")
def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


@njit(cache=True, error_model="numpy")
def _softmax_in_place(row, K):
    top = row[0]
    for k in range(1, K):
        if row[k] > top:
            top = row[k]
    total = 0.0
    for k in range(K):
        row[k] = np.exp(row[k] - top)
        total += row[k]
    for k in range(K):
        row[k] = row[k] / total


@njit(cache=True, error_model="numpy")
def _argmax(row, K):
    best = 0
    for k in range(1, K):
        if row[k] > row[best]:
            best = k
    return best


# Phases of the evaluation state machine.  One loop with a single call site keeps one copy
# of the (inlined) interpreter in the compiled driver instead of four.
_SETUP = 0
_TRAIN_PREDICT = 1
_LEARN = 2
_VALID_PREDICT = 3
# The component each phase runs.
_SETUP_COMPONENT, _PREDICT_COMPONENT, _LEARN_COMPONENT = 0, 1, 2


@njit(cache=True, error_model="numpy", inline="always")
def _validation_fitness(loss, n_valid_total, eval_type):
    loss = loss / n_valid_total
    if eval_type == _RMS_ERROR:
        fitness = 1.0 + _SQUASH * np.arctan(np.sqrt(loss))
    else:
        fitness = 1.0 - loss
    if not (fitness >= 0.0 and fitness <= 1.0):  # NaN or out of range
        return 0.0
    return fitness


@njit(cache=True, error_model="numpy")
def evaluate_task(program, task, run, registers, record, F):
    """Fitness of the program on one task (the reference's Executor::Execute).

    ``program`` is what this module's ``run_component`` runs (kernel_args.ProgramArrays for
    the interpreter, None for a compiled candidate); ``task`` a TaskData, ``run`` a
    RunSettings, ``registers`` the program's memory, ``record`` a RunRecord (kernel_args).
    ``task.order`` lists training example indices for all epochs; ``run.train_steps`` is
    the train budget.  After each epoch a validation pass runs; the fitness is the best over
    epochs, and 0 if training fails in the first epoch.  Errors of the first epoch are
    recorded (up to ``run.n_record`` each) for FEC; the counters return the errors recorded,
    the train steps completed and the component calls made (all, and Learn's).  The
    prediction arrays receive the raw predictions (before normalisation) when they have
    rows.  ``F``, the feature size, is a compile-time constant in the interpreter (a
    literal: its loops over features unroll), a number in the compiled candidates' driver.
    """
    xtr, ytr, order, n_unique = task.x_train, task.y_train, task.order, task.n_train
    xva, yva, n_valid_total = task.x_valid, task.y_valid, task.n_valid
    eval_type, K = task.eval_type, task.num_classes
    n_valid, max_abs_error, seed = run.valid_examples, run.max_abs_error, run.seed
    n_record, counters = run.n_record, record.counters
    train_err, valid_err = record.train_errors, record.valid_errors
    train_pred, valid_pred = record.train_predictions, record.valid_predictions
    s, v = registers.scalars, registers.vectors
    s[:] = 0.0
    v[:] = 0.0
    registers.matrices[:] = 0.0
    counters[:] = 0
    best = 0.0
    phase = _SETUP
    call = 0
    start = 0          # index in ``order`` of the current epoch's first step
    steps = 0          # training steps in the current epoch
    t = 0              # step within the epoch, or example within the validation pass
    epoch = 0
    remaining = run.train_steps
    loss = 0.0
    idx = 0
    comp = 0
    scalar_task = eval_type != _MULTICLASS
    while True:
        # ---- what the driver writes before the call ----------------------------------
        if phase == _SETUP:
            comp = _SETUP_COMPONENT
        elif phase == _LEARN:
            comp = _LEARN_COMPONENT
            for i in range(F):
                v[0, i] = xtr[idx, i]
            if scalar_task:
                s[0] = ytr[idx]
            else:
                label = int(ytr[idx])
                for i in range(F):
                    v[1, i] = 1.0 if i == label else 0.0
        else:
            comp = _PREDICT_COMPONENT
            if phase == _TRAIN_PREDICT:
                idx = order[start + t]
                for i in range(F):
                    v[0, i] = xtr[idx, i]
            else:
                for i in range(F):
                    v[0, i] = xva[t, i]
            if scalar_task:
                s[0] = 0.0
            else:
                for i in range(F):
                    v[1, i] = 0.0
        run_component(program, comp, registers, seed, call, F)
        call += 1
        counters[CALLS] += 1
        # ---- what the driver does after it, and which phase comes next ----------------
        end_of_pass = False
        fitness = 0.0
        if phase == _TRAIN_PREDICT:
            counters[STEPS_DONE] += 1
            row = start + t
            if scalar_task:
                if row < train_pred.shape[0]:
                    train_pred[row, 0] = s[1]
                if eval_type == _ACCURACY:
                    s[1] = _sigmoid(s[1])
                err = abs(ytr[idx] - s[1])
            else:
                if row < train_pred.shape[0]:
                    for k in range(K):
                        train_pred[row, k] = v[2, k]
                _softmax_in_place(v[2], K)
                label = int(ytr[idx])
                err = 0.0
                for k in range(K):
                    d = abs((1.0 if k == label else 0.0) - v[2, k])
                    if d > err or d != d:
                        err = d
            if not err <= max_abs_error:  # NaN, inf or too large: training failed
                return best
            if epoch == 0 and counters[TRAIN_ERRORS_RECORDED] < n_record:
                train_err[counters[TRAIN_ERRORS_RECORDED]] = err
                counters[TRAIN_ERRORS_RECORDED] += 1
            phase = _LEARN
        elif phase == _LEARN:
            counters[LEARN_CALLS] += 1
            t += 1
            if t < steps:
                phase = _TRAIN_PREDICT
            else:
                start += steps
                remaining -= n_unique
                t = 0
                loss = 0.0
                if n_valid > 0:
                    phase = _VALID_PREDICT
                else:
                    end_of_pass = True
                    fitness = _validation_fitness(loss, n_valid_total, eval_type)
        elif phase == _VALID_PREDICT:
            if not scalar_task:
                if t < valid_pred.shape[0]:
                    for k in range(K):
                        valid_pred[t, k] = v[2, k]
                e = 0.0 if _argmax(v[2], K) == int(yva[t]) else 1.0
                loss += e
            elif eval_type == _ACCURACY:
                if t < valid_pred.shape[0]:
                    valid_pred[t, 0] = s[1]
                p = _sigmoid(s[1])
                if p > 1.0 or p < 0.0:
                    e = np.inf
                else:
                    e = 0.0 if (yva[t] > 0.5) == (p > 0.5) else 1.0
                loss += e
            else:
                if t < valid_pred.shape[0]:
                    valid_pred[t, 0] = s[1]
                e = yva[t] - s[1]
                loss += e * e
            t += 1
            if not abs(e) <= max_abs_error:
                end_of_pass = True        # this pass scores 0; later epochs may still count
            else:
                if epoch == 0 and counters[VALID_ERRORS_RECORDED] < n_record:
                    valid_err[counters[VALID_ERRORS_RECORDED]] = abs(e)
                    counters[VALID_ERRORS_RECORDED] += 1
                if t == n_valid:
                    end_of_pass = True
                    fitness = _validation_fitness(loss, n_valid_total, eval_type)
        if end_of_pass:
            if fitness > best:
                best = fitness
            epoch += 1
        if phase == _SETUP or end_of_pass:
            # Start the next epoch, if the budget has steps left.
            if remaining <= 0:
                return best
            steps = min(n_unique, remaining)
            t = 0
            phase = _TRAIN_PREDICT
