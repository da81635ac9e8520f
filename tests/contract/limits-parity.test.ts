/**
 * Limits in one place (issue 18): the renderer's form and the CLI's option parsers accept and
 * refuse the same values, because both read src/shared/limits.ts and names.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { batchSizeArg, intervalArg, lrArg, stepsArg } from '../../src/cli/options';
import {
  MECHANICS_101,
  validateRunForm,
  type RunFormValues,
} from '../../src/renderer/src/lib/validate';
import { REQUEST_SCHEMAS } from '../../src/shared/schemas';
import { LIMITS } from '../../src/shared/limits';
import { branchNameProblem } from '../../src/shared/names';
import { checkNewBranchName } from '../../src/main/store/layout';

const accepts = (parse: (v: string) => unknown, raw: string): boolean => {
  try {
    parse(raw);
    return true;
  } catch {
    return false;
  }
};

const formAccepts = (field: keyof RunFormValues, raw: string): boolean => {
  const v: RunFormValues = { ...MECHANICS_101, dataset: 'fake', [field]: raw };
  return validateRunForm(v, 'new')[field] === undefined;
};

const CASES: { field: keyof RunFormValues; cli: (v: string) => unknown; values: string[] }[] = [
  {
    field: 'steps',
    cli: stepsArg,
    values: [
      '1',
      '0',
      '-1',
      '2000',
      String(LIMITS.maxSteps),
      String(LIMITS.maxSteps + 1),
      '9007199254740993',
      '1.5',
      'ten',
      ' 7 ',
      '1e3',
    ],
  },
  {
    field: 'checkpointEvery',
    cli: intervalArg,
    values: ['1', '0', String(LIMITS.maxSteps), String(LIMITS.maxSteps + 1), '2.0'],
  },
  {
    field: 'lr',
    cli: lrArg,
    values: [
      '0.01',
      '0',
      '-0.1',
      '1e-9',
      '100',
      '101',
      '1000',
      '1000.0001',
      '1e400',
      'Infinity',
      'NaN',
      'abc',
      '1e3',
    ],
  },
];

test('the form and the CLI accept and refuse the same steps, intervals and learning rates', () => {
  for (const c of CASES) {
    for (const raw of c.values) {
      assert.equal(
        accepts(c.cli, raw),
        formAccepts(c.field, raw),
        `${c.field} = ${JSON.stringify(raw)}`,
      );
    }
  }
});

test('batch size: the CLI bound is the largest dataset bound, the form the dataset bound (fake: 2000)', () => {
  for (const raw of ['1', '0', '2000', '2001', '55000', '55001', '1.5']) {
    const cli = accepts(batchSizeArg, raw);
    const v: RunFormValues = { ...MECHANICS_101, dataset: 'mnist', batchSize: raw };
    assert.equal(cli, validateRunForm(v, 'new').batchSize === undefined, raw);
  }
});

test('the service schema and the form agree on the learning-rate range', () => {
  for (const lr of [0.01, 100, 1000, 1000.5, 0, -1]) {
    const req = { ref: 'main', steps: 10, lr };
    assert.equal(
      REQUEST_SCHEMAS.continueRun.safeParse(req).success,
      formAccepts('lr', String(lr)),
      String(lr),
    );
  }
});

test('branch names: the form refuses exactly what the store refuses to create', () => {
  const names = [
    'main',
    'a|b',
    'Café',
    'Cafe\u0301',
    'x/aux',
    'a..b',
    'ok/name-1',
    '变'.repeat(70),
    '变'.repeat(60),
  ];
  for (const name of names) {
    const form = formAccepts('branch', name);
    let store = true;
    try {
      checkNewBranchName(name);
    } catch {
      store = false;
    }
    assert.equal(form, store, name);
    assert.equal(form, branchNameProblem(name) === null, name);
  }
});
