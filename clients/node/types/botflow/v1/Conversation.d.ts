import type { Message as _botflow_v1_Message, Message__Output as _botflow_v1_Message__Output } from '../../botflow/v1/Message';
export interface Conversation {
    'messages'?: (_botflow_v1_Message)[];
    'currentBotSessionId'?: (string);
}
export interface Conversation__Output {
    'messages'?: (_botflow_v1_Message__Output)[];
    'currentBotSessionId'?: (string);
}
