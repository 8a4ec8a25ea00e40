import type { OpenAIAction as _botflow_v1_OpenAIAction, OpenAIAction__Output as _botflow_v1_OpenAIAction__Output } from '../../botflow/v1/OpenAIAction';
import type { WebhookAction as _botflow_v1_WebhookAction, WebhookAction__Output as _botflow_v1_WebhookAction__Output } from '../../botflow/v1/WebhookAction';
import type { SetVariableAction as _botflow_v1_SetVariableAction, SetVariableAction__Output as _botflow_v1_SetVariableAction__Output } from '../../botflow/v1/SetVariableAction';
export interface Action {
    'openai'?: (_botflow_v1_OpenAIAction | null);
    'webhook'?: (_botflow_v1_WebhookAction | null);
    'setVariable'?: (_botflow_v1_SetVariableAction | null);
    'kind'?: "openai" | "webhook" | "setVariable";
}
export interface Action__Output {
    'openai'?: (_botflow_v1_OpenAIAction__Output);
    'webhook'?: (_botflow_v1_WebhookAction__Output);
    'setVariable'?: (_botflow_v1_SetVariableAction__Output);
}
