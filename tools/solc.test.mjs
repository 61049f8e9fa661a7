// Tests of the solc-js shim (`tools/solc`), run with `node --test tools/`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const SHIM = join(dirname(fileURLToPath(import.meta.url)), 'solc');

function solc(args, input) {
  const result = spawnSync(SHIM, args, { input: input ?? '', encoding: 'utf8' });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

function standardJson(sources) {
  return JSON.stringify({
    language: 'Solidity',
    sources,
    settings: { outputSelection: { '*': { '*': ['abi', 'evm.bytecode.object'] } } },
  });
}

function withTree(files, fn) {
  const root = mkdtempSync(join(tmpdir(), 'solc-shim-'));
  try {
    for (const [path, content] of Object.entries(files)) {
      mkdirSync(dirname(join(root, path)), { recursive: true });
      writeFileSync(join(root, path), content);
    }
    return fn(root);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

const LIB = '// SPDX-License-Identifier: MIT\npragma solidity ^0.8.0;\nlibrary L { function one() internal pure returns (uint256) { return 1; } }\n';
const MAIN = (importPath) =>
  `// SPDX-License-Identifier: MIT\npragma solidity ^0.8.0;\nimport {L} from "${importPath}";\ncontract C { function f() external pure returns (uint256) { return L.one(); } }\n`;

test('--version answers like native solc with a semver on the last line', () => {
  const { code, stdout } = solc(['--version']);
  assert.equal(code, 0);
  const lines = stdout.trim().split('\n');
  assert.equal(lines[0], 'solc, the solidity compiler commandline interface');
  assert.match(lines.at(-1), /^Version: 0\.8\.\d+\+commit\.[0-9a-f]{8}/);
});

test('--standard-json compiles sources given inline', () => {
  const { code, stdout } = solc(['--standard-json'], standardJson({ 'L.sol': { content: LIB }, 'C.sol': { content: MAIN('./L.sol') } }));
  assert.equal(code, 0);
  const out = JSON.parse(stdout);
  assert.ok(out.contracts['C.sol'].C.evm.bytecode.object.length > 0);
  assert.deepEqual((out.errors ?? []).filter((e) => e.severity === 'error'), []);
});

test('imports are read from disk relative to --base-path', () => {
  withTree({ 'src/L.sol': LIB }, (root) => {
    const { code, stdout } = solc(['--base-path', root, '--standard-json'], standardJson({ 'src/C.sol': { content: MAIN('src/L.sol') } }));
    assert.equal(code, 0);
    assert.ok(JSON.parse(stdout).contracts['src/C.sol'].C);
  });
});

test('imports fall back to each --include-path', () => {
  withTree({ 'base/keep': '', 'lib/pkg/L.sol': LIB }, (root) => {
    const args = ['--base-path', join(root, 'base'), '--include-path', join(root, 'lib'), '--standard-json'];
    const { code, stdout } = solc(args, standardJson({ 'C.sol': { content: MAIN('pkg/L.sol') } }));
    assert.equal(code, 0);
    assert.ok(JSON.parse(stdout).contracts['C.sol'].C);
  });
});

test('absolute imports outside the allowed paths are refused, and allowed with --allow-paths', () => {
  withTree({ 'base/keep': '', 'elsewhere/L.sol': LIB }, (root) => {
    const input = standardJson({ 'C.sol': { content: MAIN(join(root, 'elsewhere/L.sol')) } });
    const refused = solc(['--base-path', join(root, 'base'), '--standard-json'], input);
    assert.equal(refused.code, 0, 'compilation errors are reported in the JSON, like native solc');
    const errors = JSON.parse(refused.stdout).errors.filter((e) => e.severity === 'error');
    assert.match(errors[0].formattedMessage, /File not found/);
    const allowed = solc(['--base-path', join(root, 'base'), '--allow-paths', join(root, 'elsewhere'), '--standard-json'], input);
    assert.ok(JSON.parse(allowed.stdout).contracts['C.sol'].C);
  });
});

test('a syntax error is reported as an error in the output JSON', () => {
  const { code, stdout } = solc(['--standard-json'], standardJson({ 'Bad.sol': { content: 'pragma solidity ^0.8.0; contract {' } }));
  assert.equal(code, 0);
  const errors = JSON.parse(stdout).errors;
  assert.equal(errors[0].type, 'ParserError');
});

test('unsupported arguments exit 2 with the usage', () => {
  const { code, stderr } = solc(['--optimize', '--standard-json']);
  assert.equal(code, 2);
  assert.match(stderr, /unsupported argument `--optimize`/);
  assert.match(stderr, /usage: solc/);
});

test('no mode, conflicting modes and missing values exit 2', () => {
  assert.equal(solc([]).code, 2);
  assert.equal(solc(['--version', '--standard-json']).code, 2);
  assert.match(solc(['--base-path']).stderr, /`--base-path` needs a value/);
  assert.match(solc(['--include-path', '/x', '--standard-json']).stderr, /requires `--base-path`/);
});

test('empty or malformed standard JSON input exits 1 with a clear message', () => {
  const empty = solc(['--standard-json'], '');
  assert.equal(empty.code, 1);
  assert.match(empty.stderr, /empty standard JSON input/);
  const garbage = solc(['--standard-json'], '{not json');
  assert.equal(garbage.code, 1);
  assert.match(garbage.stderr, /is not valid JSON/);
});

test('--key=value forms are accepted', () => {
  withTree({ 'src/L.sol': LIB }, (root) => {
    const { code, stdout } = solc([`--base-path=${root}`, '--standard-json'], standardJson({ 'src/C.sol': { content: MAIN('src/L.sol') } }));
    assert.equal(code, 0);
    assert.ok(JSON.parse(stdout).contracts['src/C.sol'].C);
  });
});
