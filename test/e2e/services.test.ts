import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from '@jest/globals';
import amqp from 'amqplib';
import axios from 'axios';
import { alertmanagerConfig } from '../../hack/localenv/services.ts';
import { eventually } from '../../hack/localenv/wait.ts';
import { StandInServer } from '../support/http.ts';
import { started, testEnv } from '../support/tiers.ts';

// Proof that the services the e2e tier starts are the real ones and answer as their users expect.
const env = testEnv('e2e');
const servers: StandInServer[] = [];
afterAll(async () => {
  await Promise.all(servers.map((s) => s.close()));
});

describe('RabbitMQ', () => {
  it('reports through the management API the depth that amqplib published', async () => {
    const rabbit = started(env.rabbitmq, 'RabbitMQ');
    const queue = `proof-${Date.now()}`;
    const connection = await amqp.connect(rabbit.amqpUrl);
    try {
      const channel = await connection.createConfirmChannel();
      await channel.assertQueue(queue, { durable: true });
      for (let i = 0; i < 1000; i++) {
        channel.sendToQueue(queue, Buffer.from(JSON.stringify({ i })), {
          persistent: true,
          messageId: `m-${i}`,
        });
      }
      await channel.waitForConfirms();
      expect((await channel.checkQueue(queue)).messageCount).toBe(1000);
      await channel.close();
    } finally {
      await connection.close();
    }

    const url = `${rabbit.managementUrl}/api/queues/${encodeURIComponent('/')}/${queue}`;
    const auth = { username: rabbit.username, password: rabbit.password };
    const depth = await eventually(
      'the management API to count 1000 messages',
      async () => {
        const { data } = await axios.get<{ messages?: number; messages_ready?: number }>(url, { auth });
        return data.messages === 1000 && data;
      },
      { timeoutMs: 30_000, intervalMs: 500 },
    );
    expect(depth.messages_ready).toBe(1000);
  });

  it('has the shovel plugin enabled (queue moves use it)', async () => {
    const rabbit = started(env.rabbitmq, 'RabbitMQ');
    const auth = { username: rabbit.username, password: rabbit.password };
    const { data: nodes } = await axios.get<{ enabled_plugins: string[] }[]>(
      `${rabbit.managementUrl}/api/nodes`,
      {
        auth,
      },
    );
    expect(nodes[0]?.enabled_plugins).toEqual(
      expect.arrayContaining(['rabbitmq_management', 'rabbitmq_shovel', 'rabbitmq_shovel_management']),
    );
    const shovels = await axios.get<unknown[]>(`${rabbit.managementUrl}/api/shovels`, { auth });
    expect(shovels.data).toEqual([]);
  });
});

describe('Alertmanager', () => {
  it('delivers an alert posted to /api/v2/alerts as a v4 webhook to a local receiver', async () => {
    const am = started(env.alertmanager, 'Alertmanager');
    const receiver = new StandInServer();
    servers.push(receiver);
    const receiverUrl = await receiver.listen();
    writeFileSync(am.configFile, alertmanagerConfig(`${receiverUrl}/alerts`));
    expect((await axios.post(`${am.url}/-/reload`)).status).toBe(200);

    const startsAt = new Date().toISOString();
    const labels = { alertname: 'ProofAlert', namespace: 'proof', deployment: 'api', severity: 'critical' };
    await axios.post(`${am.url}/api/v2/alerts`, [
      {
        labels,
        annotations: { summary: 'proof' },
        startsAt,
        generatorURL: 'http://prometheus.invalid/graph',
      },
    ]);

    // Alertmanager may still flush groups of earlier tests to the new receiver; ours is ProofAlert.
    const delivery = await eventually(
      'a webhook from Alertmanager about ProofAlert',
      () => receiver.requests.find((r) => r.body.includes('"alertname":"ProofAlert"')),
      { timeoutMs: 30_000 },
    );
    expect(delivery.method).toBe('POST');
    expect(delivery.url).toBe('/alerts');
    expect(delivery.headers['user-agent']).toMatch(/^Alertmanager\//);
    const payload = JSON.parse(delivery.body) as {
      version: string;
      status: string;
      receiver: string;
      alerts: {
        status: string;
        labels: Record<string, string>;
        fingerprint: string;
        startsAt: string;
        endsAt: string;
      }[];
    };
    expect(payload.version).toBe('4');
    expect(payload.status).toBe('firing');
    expect(payload.receiver).toBe('selfheal');
    expect(payload.alerts).toHaveLength(1);
    const [alert] = payload.alerts;
    expect(alert?.labels).toEqual(labels);
    expect(alert?.fingerprint).toMatch(/^[0-9a-f]{16}$/);
    expect(Date.parse(alert?.startsAt ?? '')).toBe(Date.parse(startsAt));
    expect(alert?.endsAt).toBe('0001-01-01T00:00:00Z');
  });
});

describe('Prometheus', () => {
  it("scrapes RabbitMQ's own per-queue metrics (rabbitmq_prometheus)", async () => {
    const prom = started(env.prometheus, 'Prometheus');
    const rabbit = started(env.rabbitmq, 'RabbitMQ');
    const queue = `scraped-${Date.now()}`;
    const connection = await amqp.connect(rabbit.amqpUrl);
    try {
      const channel = await connection.createConfirmChannel();
      await channel.assertQueue(queue, { durable: false, autoDelete: false });
      for (let i = 0; i < 42; i++) channel.sendToQueue(queue, Buffer.from(String(i)));
      await channel.waitForConfirms();
      const query = `rabbitmq_queue_messages_ready{service="rabbitmq",queue="${queue}"}`;
      const sample = await eventually(
        'Prometheus to have scraped the queue depth',
        async () => {
          const { data } = await axios.get<{ data: { result: { value: [number, string] }[] } }>(
            `${prom.url}/api/v1/query`,
            { params: { query } },
          );
          return data.data.result.find((r) => r.value[1] === '42');
        },
        { timeoutMs: 60_000, intervalMs: 500 },
      );
      expect(sample.value[1]).toBe('42');
      await channel.deleteQueue(queue);
    } finally {
      await connection.close();
    }
  });

  it('scrapes a local target and answers an instant query with its value', async () => {
    const prom = started(env.prometheus, 'Prometheus');
    const target = new StandInServer(() => ({
      status: 200,
      contentType: 'text/plain; version=0.0.4',
      body: '# TYPE selfheal_proof_value gauge\nselfheal_proof_value{component="proof"} 42\n',
    }));
    servers.push(target);
    await target.listen();
    writeFileSync(
      join(prom.targetsDir, 'proof.json'),
      JSON.stringify([{ targets: [new URL(target.url).host] }]),
    );

    const query = 'selfheal_proof_value{job="local",component="proof"}';
    const sample = await eventually(
      'Prometheus to answer the query',
      async () => {
        const { data } = await axios.get<{ status: string; data: { result: { value: [number, string] }[] } }>(
          `${prom.url}/api/v1/query`,
          { params: { query } },
        );
        return data.data.result[0];
      },
      { timeoutMs: 30_000, intervalMs: 500 },
    );
    expect(sample.value[1]).toBe('42');
    expect(target.requests.some((r) => r.url === '/metrics')).toBe(true);
  });
});
