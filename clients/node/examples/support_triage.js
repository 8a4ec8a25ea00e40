// Runs examples/flows/support_triage.json on a botflow server with the fake
// provider, then resumes it with the contact's answer (the resume protocol of
// docs/flows.md). From the repository root, with a server running:
//   node clients/node/examples/support_triage.js [HOST:PORT]
const fs = require('node:fs');
const { BotflowClient, InvalidRequestError, status } = require('@botflow/client');

const target = process.argv[2] || process.env.BOTFLOW_TARGET || '127.0.0.1:50051';

/** One line per event: exactly one of the event fields is set. */
function describe(event) {
  const at = `#${event.sequence} [${event.blockId}]`;
  if (event.messageSent) return `${at} bot says: ${event.messageSent.text}`;
  if (event.noteAdded) return `${at} note: ${event.noteAdded.text}`;
  if (event.variableChanged) {
    const { name, value } = event.variableChanged;
    return `${at} ${name} = ${JSON.stringify(value)}`;
  }
  if (event.actionFinished) {
    const { outcome, attempts, error } = event.actionFinished.result;
    return `${at} action ${outcome} after ${attempts ?? 0} attempt(s)${error ? `: ${error}` : ''}`;
  }
  if (event.warning) return `${at} warning: ${event.warning.warning.code}`;
  if (event.botRestarted) return `${at} bot restarted`;
  const { resumeBlockId, steps } = event.finished;
  const resume = resumeBlockId ? `, resume at "${resumeBlockId}"` : '';
  return `${at} finished: ${event.finished.status} after ${steps} step(s)${resume}`;
}

async function main() {
  const flow = JSON.parse(fs.readFileSync('examples/flows/support_triage.json', 'utf8'));
  for (const block of flow.blocks) {
    if (block.openai) block.openai.provider = 'fake'; // classifies by the words it finds
  }
  const client = new BotflowClient(target);
  try {
    // 1. Start the flow: it greets the contact and waits for an answer.
    const variables = { 'contact name': { text: 'Ana' } };
    const sent = [];
    let finished;
    for await (const event of client.runFlow({ flow, variables }, { timeoutMs: 30_000 })) {
      console.log(describe(event));
      if (event.messageSent) sent.push(event.messageSent.text);
      if (event.finished) finished = event.finished;
    }

    // 2. The contact answers: resume at the wait block with the variables of
    //    the finished event and the conversation so far (without the answer).
    const session = finished.botSessionId;
    const answer = 'I was charged twice, billing issue';
    console.log(`--- the contact answers "${answer}"`);
    const events = await client.runFlowToFinish(
      {
        flow,
        variables: finished.variables,
        conversation: {
          currentBotSessionId: session,
          messages: sent.map((text) => ({ direction: 'DIRECTION_SENT', text, botSessionId: session })),
        },
        resume: { blockId: finished.resumeBlockId, answer },
      },
      { timeoutMs: 30_000 },
    );
    for (const event of events) console.log(describe(event));
    const last = events.at(-1).finished;
    console.log('category:', last.variables.category.text, '| tags:', last.variables.tags.list.items);
  } catch (error) {
    if (error instanceof InvalidRequestError) {
      console.error('invalid request:', error.fieldViolations); // {"flow.blocks[0].next": "..."}
    } else {
      console.error(`call failed: ${status[error.code]}: ${error.details}`); // e.g. UNAVAILABLE
    }
    process.exitCode = 1;
  } finally {
    client.close();
  }
}

main();
