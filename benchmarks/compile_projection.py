"""How good are `--project-compile`'s projections? Measure compile time far out, project from a
cheap calibration, compare.

    python benchmarks/compile_projection.py measure [--max-seconds 60] [--limit 900]
    python benchmarks/compile_projection.py project [--budget 30]
    python benchmarks/compile_projection.py replay [--budgets 3 10 30]

``measure`` compiles each case of ``benchmarks/compile_cases.py`` at n = 16, 32, 64, … (each in
a fresh process, cache off) until one compile takes ``--max-seconds`` CPU seconds or is killed
at ``--limit`` wall seconds, and writes the samples with the machine and the command to
``benchmarks/data/compile_measured.json`` (run once; the data are committed). ``project`` runs
the real calibration (:func:`jaxlint.analyzer.projection.calibrate_and_project`, budget
``--budget``) for each case, projects to every measured n beyond it, and prints the ratio
projected/measured per (case, n) and the targets: within 3x at ~10x the largest calibration n,
the range containing the measured value, never under the budget when the measured compile is
over it. ``replay`` runs the same calibration on the measured compiles instead of new ones (as
on an idle machine: a compile's wall time is its CPU time), for several budgets: deterministic,
and far from the calibration even with small budgets. Times are CPU seconds of the compiling process (the machine is shared; wall time
under load is not a property of the program). The diffrax 0.6.1 cases need a Python with
diffrax 0.6.1 and jaxlint installed: ``--python-061 PATH`` (skipped, with the reason, without).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sys
import time
from pathlib import Path

from jaxlint.analyzer.cases import Target
from jaxlint.analyzer.projection import CompileSample, calibrate_and_project, session_compile_at

HERE = Path(__file__).resolve().parent
CASES = HERE / "compile_cases.py"
DATA = HERE / "data" / "compile_measured.json"
DIFFRAX_061 = ("diffrax606_traced_t", "diffrax606_literal_t")
QUADRATIC = ("quadratic_pairs",)


def _cases() -> tuple[list[str], list[str]]:
    sys.path.insert(0, str(HERE))
    import compile_cases

    return list(compile_cases.GROWING) + list(compile_cases.HELD_OUT), list(compile_cases.FLAT)


def _python_for(case: str, python_061: str | None) -> str | None:
    if case in DIFFRAX_061:
        return python_061
    return sys.executable


def _compile_at(case: str, python: str, limit_setup: float = 900.0):
    """Compile ``case`` at n in a fresh child (the same child as ``scale --compile``), with ``python``."""
    os.environ.update({"JAX_PLATFORMS": "cpu", "JAX_ENABLE_COMPILATION_CACHE": "false"})
    options = {"argv": [], "size": None, "platform": None, "capture_only": False}
    return session_compile_at(Target(str(CASES), case), f"{CASES.name}::{case}", options,
                              setup_limit=limit_setup, python=python)


def measure(args: argparse.Namespace) -> None:
    growing, flat = _cases()
    path = Path(args.data)
    data = json.loads(path.read_text()) if path.exists() else {"cases": {}}
    command = "python benchmarks/compile_projection.py " + " ".join(sys.argv[1:])
    if args.extend:
        data.setdefault("extended_by", []).append(command)
    data.update({
        "command": data.get("command", command) if args.extend else command,
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, shared (other jobs running)",
        "seconds": "CPU seconds of the compiling process (wall_seconds beside it)",
    })
    for case in args.cases or [*growing, *flat]:
        python = _python_for(case, args.python_061)
        if python is None:
            print(f"{case}: skipped (needs --python-061 with diffrax 0.6.1)", flush=True)
            continue
        samples: list[dict] = []
        n = 4 if case in QUADRATIC else 16
        if args.extend and data["cases"].get(case):
            # Go on from the largest size compiled to completion: the curve grows, nothing is redone.
            samples = [s for s in data["cases"][case] if s["seconds"] is not None]
            n = 2 * max(s["n"] for s in samples)
        while n <= args.max_n:
            sample = _compile_at(case, python)(n, args.limit)
            samples.append({**sample.to_json(), "load_average": round(os.getloadavg()[0], 1)})
            print(json.dumps({"case": case, **samples[-1]}), flush=True)
            data["cases"][case] = samples
            path.parent.mkdir(exist_ok=True)
            path.write_text(json.dumps(data, indent=1) + "\n")
            if sample.seconds is None or sample.seconds >= args.max_seconds:
                break
            n *= 2


def replay(samples: list[dict], budget: float) -> tuple[list[int], list[tuple[int, float, float, float, float | None, float | None]]]:
    """The real calibration and projection run on measured compiles instead of new ones, as on
    an idle machine (a compile's wall time = its CPU time). Returns the calibrated sizes and,
    per measured n beyond them, (n, projected, low, high, measured seconds or None, killed limit)."""
    # A compile that failed (e.g. the OOM killer ended it) bounds nothing: left out.
    by_n = {s["n"]: s for s in samples if s["seconds"] is not None or s["killed_after"] is not None}

    def compile_at(n: int, limit: float) -> CompileSample:
        s = by_n[n]
        if s["seconds"] is None or s["seconds"] > limit:
            return CompileSample(n=n, ops_inlined=s["ops_inlined"], killed_after=limit)
        return CompileSample(n=n, ops_inlined=s["ops_inlined"], seconds=s["seconds"], wall_seconds=s["seconds"],
                             peak_bytes=s["peak_bytes"])

    ns = sorted(by_n)
    ops = {n: by_n[n]["ops_inlined"] for n in ns}
    result = calibrate_and_project(compile_at, ns, ops_at=ops.get, budget=budget, start=ns[0])
    calibrated = [s.n for s in result.samples if s.seconds is not None]
    top = max(calibrated, default=0)
    rows = [(p.n, p.value, p.low, p.high, by_n[p.n]["seconds"], by_n[p.n]["killed_after"])
            for p in result.seconds if not p.measured and p.n > top]
    return calibrated, rows


def replay_report(args: argparse.Namespace) -> None:
    data = json.loads(Path(args.data).read_text())
    print("| budget (s) | case | calibrated to n | n | x | projected (s) | range (s) | measured (s) | projected/measured | in range |")
    print("| ---: | --- | ---: | ---: | ---: | ---: | --- | ---: | ---: | --- |")
    stats = []
    for budget in args.budgets:
        for case, samples in data["cases"].items():
            calibrated, rows = replay(samples, budget)
            top = max(calibrated, default=0)
            for n, value, low, high, truth, killed in rows:
                inside = low <= truth <= high if truth is not None else high >= (killed or 0)
                measured = f"{truth:.3g}" if truth is not None else f"> {killed:.3g}"
                ratio = value / truth if truth else None
                stats.append((budget, case, n / top, ratio, inside, truth is not None and truth > budget and high < budget))
                print(f"| {budget:g} | {case} | {top:,} | {n:,} | {n / top:.0f} | {value:.3g} | {low:.3g}–{high:.3g} | {measured} | "
                      f"{f'{ratio:.2f}' if ratio else '-'} | {'yes' if inside else 'no'} |")
    far = [r for r in stats if r[3] is not None and 6 <= r[2] <= 16]
    print()
    print(f"pairs: {len(stats)}; range contains the measured value: {sum(r[4] for r in stats)}/{len(stats)} "
          f"= {sum(r[4] for r in stats) / max(len(stats), 1):.0%}")
    within, worst = _agreement([r[3] for r in far])
    print(f"at 6-16x the largest calibration n: {within}/{len(far)} within 3x; worst factor {worst:.2f}")
    print(f"measured over the budget but projected (upper end) under it: {sum(r[5] for r in stats)}")
    at_ten = []  # (budget, case, ratio at 10x or None, whether the calibration compiled every measured n)
    for budget in args.budgets:
        for case in data["cases"]:
            pairs = [(r[2], r[3]) for r in stats if r[:2] == (budget, case)]
            at_ten.append((budget, case, _ratio_at(10.0, pairs), not pairs))
    known = [ratio for _, _, ratio, _ in at_ten if ratio is not None]
    within, worst = _agreement(known)
    print(f"at exactly 10x the largest calibration n (log-interpolated between the measured sizes either side): "
          f"{within}/{len(known)} within 3x; worst factor {worst:.2f}; not measured that far: "
          + (", ".join(f"{case} ({budget:g} s)" for budget, case, ratio, covered in at_ten if ratio is None and not covered)
             or "none"))
    print("| budget (s) | " + " | ".join(data["cases"]) + " |")
    print("| ---: |" + " ---: |" * len(data["cases"]))
    for budget in args.budgets:
        cells = [f"{ratio:.2f}" if ratio is not None else ("all compiled" if covered else "-")
                 for b, _, ratio, covered in at_ten if b == budget]
        print(f"| {budget:g} | " + " | ".join(cells) + " |")


def _agreement(ratios: list[float]) -> tuple[int, float]:
    """How many projected/measured ratios lie within 3x, and the worst factor either way."""
    return sum(1 for r in ratios if 1 / 3 <= r <= 3), max((max(r, 1 / r) for r in ratios), default=float("nan"))


def _ratio_at(multiple: float, pairs: list[tuple[float, float | None]]) -> float | None:
    """projected/measured at ``multiple`` times the largest calibration n, interpolated in log-log
    between the measured sizes either side (None unless both sides were measured)."""
    below = [(k, r) for k, r in pairs if r is not None and k <= multiple]
    above = [(k, r) for k, r in pairs if r is not None and k >= multiple]
    if not below or not above:
        return None
    (k0, r0), (k1, r1) = max(below), min(above)
    if k0 == k1:
        return r0
    share = math.log(multiple / k0) / math.log(k1 / k0)
    return math.exp(math.log(r0) + share * (math.log(r1) - math.log(r0)))


def project(args: argparse.Namespace) -> None:
    data = json.loads(DATA.read_text())
    rows, far = [], []
    contained = total = under_budget_misses = 0
    for case, samples in data["cases"].items():
        python = _python_for(case, args.python_061)
        measured = {s["n"]: s for s in samples if s["seconds"] is not None}
        killed = [s for s in samples if s["killed_after"] is not None]
        if python is None or len(measured) < 3:
            print(f"{case}: skipped ({'needs --python-061' if python is None else 'too few measured sizes'})")
            continue
        ns = sorted(measured) + [s["n"] for s in killed]

        compile_at = _compile_at(case, python)
        start = time.perf_counter()
        # The op count at each n, as `scale --project-compile` has it from the lowering.
        ops = {s["n"]: s["ops_inlined"] for s in samples if s.get("ops_inlined")}
        result = calibrate_and_project(compile_at, ns, ops_at=ops.get, budget=args.budget, start=min(ns))
        spent = time.perf_counter() - start
        calibrated = [s.n for s in result.samples if s.seconds is not None]
        top = max(calibrated) if calibrated else 0
        print(f"{case}: calibrated at {calibrated} in {spent:.1f} s wall ({result.stopped}); "
              f"axis {result.axis}, exponents {[round(e, 2) for e in result.exponents]}; {result.verdict}: {result.message}", flush=True)
        for p in result.seconds:
            if p.measured or p.n <= top:
                continue
            truth = measured.get(p.n)
            if truth is None:  # measured only as "longer than the limit"
                bound = next(s["killed_after"] for s in killed if s["n"] == p.n)
                if p.high < args.budget <= bound:
                    under_budget_misses += 1
                rows.append((case, top, p.n, p.value, p.low, p.high, None, bound))
                continue
            t = truth["seconds"]
            total += 1
            inside = p.low <= t <= p.high
            contained += inside
            if p.high < args.budget <= t:
                under_budget_misses += 1
            rows.append((case, top, p.n, p.value, p.low, p.high, t, None))
            if top and 6 <= p.n / top <= 16:
                far.append((case, p.n / top, p.value / t))
    print()
    print("| case | largest calibration n | n | projected (s) | range (s) | measured (s) | projected/measured | in range |")
    print("| --- | ---: | ---: | ---: | --- | ---: | ---: | --- |")
    for case, top, n, value, low, high, truth, bound in rows:
        measured_text = f"{truth:.3g}" if truth is not None else f"> {bound:.3g}"
        ratio = f"{value / truth:.2f}" if truth else "-"
        inside = ("yes" if low <= truth <= high else "no") if truth else ("yes" if high >= bound else "no")
        print(f"| {case} | {top:,} | {n:,} | {value:.3g} | {low:.3g}–{high:.3g} | {measured_text} | {ratio} | {inside} |")
    print()
    within, worst = _agreement([r for *_, r in far])
    print(f"at 6-16x the largest calibration n: {len(far)} pairs, worst factor {worst:.2f} ({within} within 3x)")
    print(f"range contains the measured value: {contained}/{total} = {contained / max(total, 1):.0%}")
    print(f"measured over the budget but projected (upper bound) under it: {under_budget_misses}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    m = sub.add_parser("measure")
    m.add_argument("--max-seconds", type=float, default=60.0)
    m.add_argument("--limit", type=float, default=900.0)
    m.add_argument("--extend", action="store_true",
                   help="continue each case from its largest completed n in --data (doubling) instead of from n=16")
    m.add_argument("--max-n", type=int, default=1 << 20)
    m.add_argument("--cases", nargs="*")
    m.add_argument("--python-061")
    m.add_argument("--data", default=str(DATA), help="where to write the samples (merged into the cases already there)")
    p = sub.add_parser("project")
    p.add_argument("--budget", type=float, default=30.0)
    p.add_argument("--python-061")
    r = sub.add_parser("replay")
    r.add_argument("--budgets", type=float, nargs="+", default=[3.0, 10.0, 30.0])
    r.add_argument("--data", default=str(DATA), help="the measured compiles to replay")
    args = parser.parse_args()
    {"measure": measure, "project": project, "replay": replay_report}[args.command](args)


if __name__ == "__main__":
    main()
