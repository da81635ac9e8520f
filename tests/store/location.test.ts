/** The default store location on each platform. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { defaultStoreDir } from '../../src/main/store/location';

test('LOCKSTEP_STORE wins everywhere', () => {
  assert.equal(defaultStoreDir({ LOCKSTEP_STORE: '/data/ls' }, 'linux', '/home/u'), '/data/ls');
  assert.equal(defaultStoreDir({ LOCKSTEP_STORE: 'D:\\ls' }, 'win32', 'C:\\Users\\u'), 'D:\\ls');
});

test('Linux: XDG_DATA_HOME, else ~/.local/share; a relative XDG_DATA_HOME is ignored', () => {
  assert.equal(defaultStoreDir({}, 'linux', '/home/u'), '/home/u/.local/share/lockstep');
  assert.equal(
    defaultStoreDir({ XDG_DATA_HOME: '/x/data' }, 'linux', '/home/u'),
    '/x/data/lockstep',
  );
  assert.equal(
    defaultStoreDir({ XDG_DATA_HOME: 'rel' }, 'linux', '/home/u'),
    '/home/u/.local/share/lockstep',
  );
  assert.equal(
    defaultStoreDir({ LOCKSTEP_STORE: '' }, 'freebsd', '/home/u'),
    '/home/u/.local/share/lockstep',
  );
});

test('macOS and Windows app data folders', () => {
  assert.equal(
    defaultStoreDir({}, 'darwin', '/Users/u'),
    '/Users/u/Library/Application Support/Lockstep',
  );
  assert.equal(
    defaultStoreDir({ APPDATA: 'C:\\Users\\u\\AppData\\Roaming' }, 'win32', 'C:\\Users\\u'),
    'C:\\Users\\u\\AppData\\Roaming\\Lockstep',
  );
  assert.equal(
    defaultStoreDir({}, 'win32', 'C:\\Users\\u'),
    'C:\\Users\\u\\AppData\\Roaming\\Lockstep',
  );
});
