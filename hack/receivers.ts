// Local stand-ins for PagerDuty and Slack for the demo (hack/demo.ts starts this as a background
// process): the same contract-checking peers the tests use, printing every page and message they
// accept, one line each, to their log. It writes where they listen to the file given as argument.
import { writeFileSync } from 'node:fs';
import { PagerDutyStandIn } from '../test/support/pagerduty.ts';
import { SlackStandIn } from '../test/support/slack.ts';

const infoFile = process.argv[2];
if (!infoFile) throw new Error('usage: receivers.ts <info.json>');
const routingKey = 'demo0000000000000000000000000000';
const pagerDuty = await new PagerDutyStandIn({ routingKeys: [routingKey] }).start();
const slack = await new SlackStandIn().start();
const slackWebhookUrl = slack.webhook('incident-response');
writeFileSync(infoFile, JSON.stringify({ pagerDutyUrl: pagerDuty.url, routingKey, slackWebhookUrl }));

let pages = 0;
let messages = 0;
setInterval(() => {
  for (const event of pagerDuty.accepted.slice(pages))
    console.log(
      `PagerDuty   ${event.event_action.padEnd(11)} ${event.payload?.severity ?? ''} ${event.payload?.summary ?? event.dedup_key ?? ''}`,
    );
  pages = pagerDuty.accepted.length;
  for (const message of slack.accepted.slice(messages))
    console.log(`Slack       #${message.channel}: ${message.text.replaceAll('\n', ' ').slice(0, 160)}`);
  messages = slack.accepted.length;
}, 200);
