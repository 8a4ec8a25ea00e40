import type { SendMessageBlock as _botflow_v1_SendMessageBlock, SendMessageBlock__Output as _botflow_v1_SendMessageBlock__Output } from '../../botflow/v1/SendMessageBlock';
import type { WaitUserAnswerBlock as _botflow_v1_WaitUserAnswerBlock, WaitUserAnswerBlock__Output as _botflow_v1_WaitUserAnswerBlock__Output } from '../../botflow/v1/WaitUserAnswerBlock';
import type { ChoiceBlock as _botflow_v1_ChoiceBlock, ChoiceBlock__Output as _botflow_v1_ChoiceBlock__Output } from '../../botflow/v1/ChoiceBlock';
import type { SetVariableAction as _botflow_v1_SetVariableAction, SetVariableAction__Output as _botflow_v1_SetVariableAction__Output } from '../../botflow/v1/SetVariableAction';
import type { OpenAIAction as _botflow_v1_OpenAIAction, OpenAIAction__Output as _botflow_v1_OpenAIAction__Output } from '../../botflow/v1/OpenAIAction';
import type { WebhookAction as _botflow_v1_WebhookAction, WebhookAction__Output as _botflow_v1_WebhookAction__Output } from '../../botflow/v1/WebhookAction';
import type { AddNoteBlock as _botflow_v1_AddNoteBlock, AddNoteBlock__Output as _botflow_v1_AddNoteBlock__Output } from '../../botflow/v1/AddNoteBlock';
import type { JumpToBlock as _botflow_v1_JumpToBlock, JumpToBlock__Output as _botflow_v1_JumpToBlock__Output } from '../../botflow/v1/JumpToBlock';
import type { RestartBotBlock as _botflow_v1_RestartBotBlock, RestartBotBlock__Output as _botflow_v1_RestartBotBlock__Output } from '../../botflow/v1/RestartBotBlock';
export interface Block {
    'id'?: (string);
    'next'?: (string);
    'sendMessage'?: (_botflow_v1_SendMessageBlock | null);
    'waitUserAnswer'?: (_botflow_v1_WaitUserAnswerBlock | null);
    'choice'?: (_botflow_v1_ChoiceBlock | null);
    'setVariable'?: (_botflow_v1_SetVariableAction | null);
    'openai'?: (_botflow_v1_OpenAIAction | null);
    'webhook'?: (_botflow_v1_WebhookAction | null);
    'addNote'?: (_botflow_v1_AddNoteBlock | null);
    'jumpTo'?: (_botflow_v1_JumpToBlock | null);
    'restartBot'?: (_botflow_v1_RestartBotBlock | null);
    'kind'?: "sendMessage" | "waitUserAnswer" | "choice" | "setVariable" | "openai" | "webhook" | "addNote" | "jumpTo" | "restartBot";
}
export interface Block__Output {
    'id'?: (string);
    'next'?: (string);
    'sendMessage'?: (_botflow_v1_SendMessageBlock__Output);
    'waitUserAnswer'?: (_botflow_v1_WaitUserAnswerBlock__Output);
    'choice'?: (_botflow_v1_ChoiceBlock__Output);
    'setVariable'?: (_botflow_v1_SetVariableAction__Output);
    'openai'?: (_botflow_v1_OpenAIAction__Output);
    'webhook'?: (_botflow_v1_WebhookAction__Output);
    'addNote'?: (_botflow_v1_AddNoteBlock__Output);
    'jumpTo'?: (_botflow_v1_JumpToBlock__Output);
    'restartBot'?: (_botflow_v1_RestartBotBlock__Output);
}
