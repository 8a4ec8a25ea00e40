// A typed consumer of @botflow/client: `tsc -p tsconfig.json` checks it
// against the package's declarations (the message types are generated from
// the protos), so a renamed field or enum value fails the build here first.
import { BotflowClient, InvalidRequestError, status } from '@botflow/client';
import type { ExecuteActionRequest, RunFlowEvent, RunFlowRequest } from '@botflow/client';

const request: ExecuteActionRequest = {
  action: {
    openai: {
      token: '{{openai key}}',
      prompt: 'You are the support bot of {{shop}}.',
      history: 'HISTORY_MODE_CURRENT_BOT_SESSION',
      provider: 'fake',
      answerVariable: 'ai answer',
      errorVariable: 'ai error',
    },
  },
  variables: { 'openai key': { text: 'sk-test' }, shop: { text: 'Acme' } },
  conversation: {
    messages: [{ direction: 'DIRECTION_RECEIVED', text: 'Where is my order?', botSessionId: 's1' }],
  },
};

function describe(event: RunFlowEvent): string {
  if (event.messageSent) return `bot says: ${event.messageSent.text ?? ''}`;
  if (event.finished) return `finished: ${event.finished.status ?? ''} at ${event.finished.resumeBlockId ?? ''}`;
  return `event #${event.sequence ?? 0}`;
}

export async function main(target: string): Promise<void> {
  const client = new BotflowClient(target, { token: process.env.BOTFLOW_TOKEN });
  const abort = new AbortController();
  try {
    const response = await client.executeAction(request, { timeoutMs: 30_000, signal: abort.signal });
    const outcome: string | undefined = response.result?.outcome;
    console.log(outcome, response.variables?.['ai answer']?.text);

    const flow: RunFlowRequest = {
      flow: {
        startBlockId: 'ask',
        blocks: [{ id: 'ask', waitUserAnswer: { answerVariable: 'answer' } }],
      },
    };
    for await (const event of client.runFlow(flow, { signal: AbortSignal.timeout(30_000) })) {
      console.log(describe(event));
    }
  } catch (error) {
    if (error instanceof InvalidRequestError) {
      // Paths use the proto field names: "action.openai.answer_variable".
      for (const [path, why] of Object.entries(error.fieldViolations)) console.error(path, why);
    } else if ((error as { code?: number }).code === status.UNAVAILABLE) {
      console.error('server unavailable');
    } else {
      throw error;
    }
  } finally {
    client.close();
  }
}
