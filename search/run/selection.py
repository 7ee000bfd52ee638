"""The search's bests: the best member of the running experiment, the select check of each
experiment's candidate (early, or when it ends), the run's best candidate, and its final
evaluation.  The run's best is kept by select fitness (search fitness without select tasks);
it is what best_program.json and lineage.json hold."""
from __future__ import annotations

from typing import Callable

import numpy as np

from azcompile import interpreter
from azcompile.eval_type import EvalType
from azcompile.liveness import canonical_hash
from azcompile.program import Program, from_json
from azcompile.rng import next_u64

from ..data.table_tasks import preprocessing_of
from ..data.tasks import randomized_seeds
from ..engine import evaluator
from .archipelago import Archipelago
from .config import Config, build_task_list
from .paired_test import wilcoxon_greater
from .rundir import RunDir
from .state import SearchState


class Selection:
    def __init__(self, cfg: Config, state: SearchState, run_dir: RunDir, engine: str,
                 elapsed: Callable[[], float]):
        self.cfg = cfg
        self.state = state
        self.run_dir = run_dir
        self.engine = engine                # select/final evaluation engine
        self.elapsed = elapsed
        self.final_tasks = (build_task_list(cfg.final_tasks, "final_tasks") if cfg.final_tasks
                            else [])
        self.last_select: dict = {}         # the seeds of the last select check (for its event)

    def draw(self) -> int:
        """The next seed from the search's own random stream."""
        return int(next_u64(self.state.rng))

    # ---- during an experiment -----------------------------------------------------------------
    def check_new_best(self, islands: Archipelago) -> None:
        """A new best search fitness in this experiment: logged, and marked in its lineage."""
        i, slot, fit = islands.best_member()
        if fit <= self.state.best_search:
            return
        self.state.best_search = fit
        program, member = islands.program(i, slot), islands.member_id(i, slot)
        self.state.lineages[i].mark_best(member, program)
        self.run_dir.event("new_best", experiment=self.state.experiment,
                           individuals=int(islands.stats()[evaluator.S_INDIVIDUALS]), fitness=fit,
                           elapsed=round(self.elapsed(), 3), island=i, id=member,
                           program=program.to_json())

    def early_select(self, islands: Archipelago) -> float | None:
        """With ``early_select``: the select fitness of a candidate whose search fitness newly
        reached ``sufficient_fitness``, if it beats it (the experiment ends); else None."""
        sufficient = self.cfg.experiment["sufficient_fitness"]
        state = self.state
        if not self.cfg.experiment["early_select"] or sufficient is None:
            return None
        if not (state.best_search >= sufficient and state.best_search > state.early_checked):
            return None
        state.early_checked = state.best_search
        select = self.select(islands.program(*islands.best_member()[:2]))
        self.run_dir.event("early_select", experiment=state.experiment,
                           search_fitness=state.best_search, select_fitness=select)
        return select if select > sufficient else None

    def select(self, program: Program) -> float:
        """Fitness on the select tasks (NaN without them)."""
        self.last_select = {}
        if not self.cfg.select_tasks:
            return float("nan")
        per_draw, self.last_select = self._stage([program], self.cfg.select_tasks,
                                                 "select_tasks")
        return self._score(per_draw[0])

    # ---- the funnel -------------------------------------------------------------------------
    def choose(self, islands: Archipelago) -> tuple[tuple, Program, float]:
        """The experiment's winner: (member, program, select fitness).  The reference's rule
        (``candidates = 1``, no promotion tasks): the best member, scored on the select
        tasks.  Otherwise the funnel: the best distinct members by search fitness are scored
        on the select tasks, then the promotion tasks; after each stage the ones a one-sided
        paired Wilcoxon test (over tasks and random-op draws) puts below the stage's leader
        at level ``alpha`` drop out, and the last stage's leader wins."""
        members = self._candidates(islands)
        programs = [islands.program(*m[:2]) for m in members]
        if len(members) == 1 and not self.cfg.promotion_tasks or not self.cfg.select_tasks:
            return members[0], programs[0], self.select(programs[0])
        records = [{"search_fitness": m[2], "island": m[0], "id": islands.member_id(*m[:2])}
                   for m in members]
        # experiment_end logs the select stage's seeds, not the promotion stage's
        per_draw, self.last_select = self._stage(programs, self.cfg.select_tasks,
                                                 "select_tasks")
        alive = self._promote(list(range(len(members))), per_draw, records, "select")
        if self.cfg.promotion_tasks:
            per_draw, _ = self._stage([programs[c] for c in alive], self.cfg.promotion_tasks,
                                      "promotion_tasks")
            alive = self._promote(alive, per_draw, records, "promotion")
        winner = alive[0]
        self._report_funnel(records, winner)
        return members[winner], programs[winner], records[winner]["select"]

    def _candidates(self, islands: Archipelago) -> list[tuple[int, int, float]]:
        """Up to ``selection.candidates`` members (island, slot, search fitness), best first
        (the first island and slot on ties, as ``best_member``), one per canonical form."""
        wanted = self.cfg.selection["candidates"]
        if wanted == 1:
            return [islands.best_member()]
        ranked = sorted(((-float(f), i, slot) for i, isl in enumerate(islands.islands)
                         for slot, f in enumerate(isl.fitness)))
        mode = EvalType.of(self.cfg.search_tasks[0].eval_type).task_mode
        seen, out = set(), []
        for neg_fit, i, slot in ranked:
            h = canonical_hash(islands.program(i, slot), mode)
            if h not in seen:
                seen.add(h)
                out.append((i, slot, -neg_fit))
                if len(out) == wanted:
                    break
        return out

    def _stage(self, programs, specs, label) -> tuple[list[np.ndarray], dict]:
        """Each program's fitness per (task, draw) on one set of tasks and random-op seeds
        (the same for every program, so their values pair up), and those seeds."""
        if self.cfg.experiment["randomize_task_seeds"]:
            specs = randomized_seeds(self.draw, specs)
        tasks = build_task_list(specs, label)
        seed = self.draw()
        # Logged with experiment_end, so `azc evaluate RUN` can repeat this very check.
        seeds = {"select_seeds": [[list(s.param_seeds), list(s.data_seeds)] for s in specs],
                 "select_seed": seed}
        draws = self.cfg.selection["random_draws"]
        return [evaluator.task_draws(p, tasks, seed=seed, draws=draws, engine_name=self.engine,
                                     max_abs_error=self.cfg.evolution["max_abs_error"],
                                     op_ids=self._op_ids(p)) for p in programs], seeds

    def _score(self, per_draw: np.ndarray) -> float:
        return evaluator.combine_tasks(self._per_task(per_draw))

    def _per_task(self, per_draw: np.ndarray) -> np.ndarray:
        return evaluator.combine_draws(per_draw, self.cfg.selection["draw_combination"])

    def _paired(self, per_draw: np.ndarray) -> np.ndarray:
        """The values a paired test compares: every (task, draw) for mean draws, a task's
        worst draw when draws combine by the worst."""
        if self.cfg.selection["draw_combination"] == "worst":
            return self._per_task(per_draw)
        return per_draw.ravel()

    def _promote(self, alive, per_draw, records, stage) -> list[int]:
        """The candidates that go on from a stage: its leader first, then the ones the test
        does not put below it."""
        scores = [self._score(x) for x in per_draw]
        lead = int(np.argmax(scores))
        leader = self._paired(per_draw[lead])
        kept = [alive[lead]]
        for k, c in enumerate(alive):
            records[c][stage] = scores[k]
            p = 1.0 if k == lead else wilcoxon_greater(leader, self._paired(per_draw[k]))
            records[c][f"{stage}_p"] = p
            if k == lead:
                continue
            if p >= self.cfg.selection["alpha"]:
                kept.append(c)
            else:
                records[c]["dropped"] = stage
        return kept

    def _report_funnel(self, records, winner: int) -> None:
        """The funnel in the log: every candidate's stage scores, and the candidates whose
        search fitness passed ``sufficient_fitness`` but whose select fitness did not."""
        sufficient = self.cfg.experiment["sufficient_fitness"]
        failed = [] if sufficient is None else [
            k for k, r in enumerate(records)
            if r["search_fitness"] > sufficient and not r["select"] > sufficient]
        self.run_dir.event("selection", experiment=self.state.experiment, winner=winner,
                           candidates=[{k: (finite(v) if isinstance(v, float) else v)
                                        for k, v in r.items()} for r in records],
                           failed_select=failed)

    # ---- the run's best ---------------------------------------------------------------------
    def keep_if_best(self, islands: Archipelago, member: tuple, candidate: Program,
                     select: float) -> None:
        """The experiment's candidate (the program of ``member`` = island, slot, search
        fitness) becomes the run's best if it scores at least as well; then it is saved with
        its lineage."""
        i, slot, search_fit = member
        state = self.state
        score = select if np.isfinite(select) else search_fit
        if state.best is not None and score < state.best["score"]:
            return
        state.best = {"score": score, "select_fitness": finite(select),
                      "search_fitness": search_fit, "experiment": state.experiment,
                      "program": candidate.to_json(),
                      "individuals": state.total_individuals, "elapsed": round(self.elapsed(), 3)}
        self.run_dir.save_best(self.best_program())
        self.run_dir.save_json(self.run_dir.lineage_path,
                               state.lineages[i].chain_json(islands.member_id(i, slot)))

    def _op_ids(self, program: Program) -> frozenset:
        """The interpreter's op set for a candidate: the search's (already compiled) unless
        the candidate holds other ops (from its initial program)."""
        return interpreter.op_ids_of(self.cfg.op_names, program)

    def solved(self) -> bool:
        sufficient = self.cfg.experiment["sufficient_fitness"]
        return sufficient is not None and self.state.best["score"] > sufficient

    def best_program(self) -> Program:
        """The run's best with what best_program.json says about it."""
        best = self.state.best
        program = from_json(dict(best["program"]))
        meta = {"config_name": self.state.config_name, "seed": self.state.seed,
                "experiment": best["experiment"], "search_fitness": best["search_fitness"],
                "select_fitness": best["select_fitness"], "individuals": best["individuals"],
                "found_at_seconds": best["elapsed"], "task": _task_summary(self.cfg.search_tasks)}
        if "final_fitness" in best:
            meta["final_fitness"] = best["final_fitness"]
        preprocessing = preprocessing_of(self.cfg.search_tasks[0])
        if preprocessing:           # the standardisation of the user's table (search.api)
            meta["preprocessing"] = preprocessing
        mode = EvalType.of(self.cfg.search_tasks[0].eval_type).task_mode
        meta["canonical_hash"] = f"{canonical_hash(program, mode):016x}"
        return Program(program.setup, program.predict, program.learn, program.memory, meta)

    def final(self) -> tuple[float | None, Program | None]:
        """The run's best scored on the final tasks (None without them), and saved."""
        final = None
        if self.final_tasks and self.state.best is not None:
            best = self.best_program()
            sel = self.cfg.selection
            final, _ = evaluator.evaluate_on_tasks(
                best, self.final_tasks, seed=self.draw(), engine_name=self.engine,
                max_abs_error=self.cfg.evolution["max_abs_error"], op_ids=self._op_ids(best),
                draws=sel["random_draws"], draw_combination=sel["draw_combination"])
            self.state.best["final_fitness"] = final
        program = self.best_program() if self.state.best else None
        if program is not None:
            self.run_dir.save_best(program)
        return final, program


def finite(x):
    """A number for JSON: None for a missing or non-finite one."""
    if x is None:
        return None
    x = float(x)
    return x if np.isfinite(x) else None


def _task_summary(specs) -> str:
    parts = [f"{s.num_tasks}x {s.type} (F={s.features}, {s.num_train_examples} train / "
             f"{s.num_valid_examples} valid)" for s in specs]
    return "; ".join(parts)
