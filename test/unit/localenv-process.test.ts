import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { ManagedProcess, processesMarkedFor, terminateMarked } from '../../hack/localenv/process.ts';
import { eventually } from '../../hack/localenv/wait.ts';

// The test set-up's hygiene rests on these: every process it starts can be found and ended, even
// one whose parent was killed, and a process that dies says why.
const stateDir = () => mkdtempSync(join(tmpdir(), 'selfheal-proc-'));

describe('ManagedProcess', () => {
  it('ends the whole process group on stop, children included', async () => {
    const dir = stateDir();
    const p = new ManagedProcess(
      {
        name: 'tree',
        command: 'sh',
        args: ['-c', 'sleep 300 & sleep 300 & wait'],
        logFile: join(dir, 'tree.log'),
      },
      dir,
    );
    p.start();
    await eventually('three marked processes', () => processesMarkedFor(dir).length === 3, {
      timeoutMs: 5_000,
    });
    await p.stop(2_000);
    expect(processesMarkedFor(dir)).toEqual([]);
  });

  it('reports an early exit with the tail of its log', async () => {
    const dir = stateDir();
    const p = new ManagedProcess(
      {
        name: 'broken',
        command: 'sh',
        args: ['-c', 'echo "bad flag --nope" >&2; exit 3'],
        logFile: join(dir, 'broken.log'),
      },
      dir,
    );
    p.start();
    await eventually('the exit', () => !p.running, { timeoutMs: 15_000 });
    expect(() => p.assertAlive()).toThrow(/broken exited with code 3.*\n.*bad flag --nope/s);
    expect(readFileSync(join(dir, 'broken.log'), 'utf8')).toContain('bad flag --nope');
  });

  it('can be started again after a stop (an API server restart)', async () => {
    const dir = stateDir();
    const p = new ManagedProcess(
      { name: 's', command: 'sleep', args: ['300'], logFile: join(dir, 's.log') },
      dir,
    );
    p.start();
    const first = p.pid;
    await p.stop();
    expect(p.running).toBe(false);
    p.start();
    expect(p.running).toBe(true);
    expect(p.pid).not.toBe(first);
    await p.stop();
  });
});

describe('terminateMarked', () => {
  it('finds and ends processes that outlived the run that started them', async () => {
    const dir = stateDir();
    // A daemon that detaches into its own session, like epmd -daemon: only the marker finds it.
    const p = new ManagedProcess(
      {
        name: 'daemon',
        command: 'sh',
        args: ['-c', 'setsid sleep 300 & exit 0'],
        logFile: join(dir, 'd.log'),
      },
      dir,
    );
    p.start();
    // Only the sleep once the shell that started it has exited.
    await eventually('the detached sleep alone', () => !p.running && processesMarkedFor(dir).length === 1, {
      timeoutMs: 15_000,
    });
    expect(await terminateMarked(dir, 1_000)).toBe(1);
    expect(processesMarkedFor(dir)).toEqual([]);
  });

  it('leaves processes of other state directories alone', async () => {
    const mine = stateDir();
    const other = stateDir();
    const p = new ManagedProcess(
      { name: 'other', command: 'sleep', args: ['300'], logFile: join(other, 'o.log') },
      other,
    );
    p.start();
    await eventually('the other sleep', () => processesMarkedFor(other).length === 1, { timeoutMs: 15_000 });
    expect(await terminateMarked(mine)).toBe(0);
    expect(processesMarkedFor(other)).toHaveLength(1);
    await p.stop();
  });
});

describe('eventually', () => {
  it('returns the first value the probe yields', async () => {
    let calls = 0;
    const value = await eventually('the third call', () => (++calls === 3 ? 'done' : undefined), {
      intervalMs: 1,
    });
    expect(value).toBe('done');
    expect(calls).toBe(3);
  });

  it('names what it waited for and the last error when it times out', async () => {
    await expect(
      eventually('the moon', () => Promise.reject(new Error('still night')), {
        timeoutMs: 50,
        intervalMs: 5,
      }),
    ).rejects.toThrow('timed out after 50 ms waiting for the moon (last error: still night)');
  });

  it('stops at once when the check throws', async () => {
    await expect(
      eventually('anything', () => undefined, {
        check: () => {
          throw new Error('process died');
        },
      }),
    ).rejects.toThrow('process died');
  });
});
