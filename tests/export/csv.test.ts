import { test } from 'node:test';
import assert from 'node:assert/strict';
import { csvField, metricsToCsv } from '../../src/main/export/csv';

/** A strict RFC 4180 parser, written here independently of the writer. */
function parseCsv(text: string): string[][] {
  const records: string[][] = [];
  let record: string[] = [];
  let field = '';
  let i = 0;
  let quoted = false;
  while (i < text.length) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i += 2;
      } else if (c === '"') {
        quoted = false;
        i++;
      } else {
        field += c;
        i++;
      }
    } else if (c === '"') {
      assert.equal(field, '', 'quote inside an unquoted field');
      quoted = true;
      i++;
    } else if (c === ',') {
      record.push(field);
      field = '';
      i++;
    } else if (c === '\r') {
      assert.equal(text[i + 1], '\n', 'bare CR');
      record.push(field);
      records.push(record);
      record = [];
      field = '';
      i += 2;
    } else {
      assert.notEqual(c, '\n', 'bare LF');
      field += c;
      i++;
    }
  }
  assert.equal(quoted, false, 'unterminated quote');
  assert.equal(field + record.join(''), '', 'last line lacks CRLF');
  return records;
}

test('header, values and empty cells', () => {
  const loss = Math.fround(2.302585);
  const csv = metricsToCsv([
    { step: 0, loss, batchDigest: 'ab12', stateDigest: 'cd34', testPrecision: 0.0982 },
    { step: 1, loss: 1.5, batchDigest: 'ef56', stateDigest: '7890' },
    { step: 2, trainPrecision: 0.9, validationPrecision: 0.91, testPrecision: 0.92 },
  ]);
  assert.equal(
    csv,
    'step,loss,batch_digest,state_digest,train_precision,validation_precision,test_precision\r\n' +
      `0,${loss},ab12,cd34,,,0.0982\r\n` +
      '1,1.5,ef56,7890,,,\r\n' +
      '2,,,,0.9,0.91,0.92\r\n',
  );
  const rows = parseCsv(csv);
  assert.equal(rows.length, 4);
  assert.ok(rows.every((r) => r.length === 7));
  assert.equal(Math.fround(Number(rows[1][1])), loss); // round-trips exactly
});

test('RFC 4180 quoting', () => {
  assert.equal(csvField('plain'), 'plain');
  assert.equal(csvField('a,b'), '"a,b"');
  assert.equal(csvField('say "hi"'), '"say ""hi"""');
  assert.equal(csvField('two\r\nlines'), '"two\r\nlines"');
  assert.equal(csvField('lf\nonly'), '"lf\nonly"');
  assert.equal(csvField(undefined), '');
  assert.equal(csvField(null), '');
  assert.equal(csvField(NaN), 'NaN');
  assert.equal(csvField(-0.5), '-0.5');
  const weird = 'x,"y"\r\nz';
  const parsed = parseCsv(metricsToCsv([{ step: 7, batchDigest: weird }]));
  assert.deepEqual(parsed[1], ['7', '', weird, '', '', '', '']);
});

test('empty input and bad steps', () => {
  assert.equal(metricsToCsv([]).split('\r\n').length, 2);
  assert.throws(() => metricsToCsv([{ step: -1 }]), /step/);
  assert.throws(() => metricsToCsv([{ step: 0.5 }]), /step/);
});
