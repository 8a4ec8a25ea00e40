import type { Direction as _botflow_v1_Direction, Direction__Output as _botflow_v1_Direction__Output } from '../../botflow/v1/Direction';
export interface Message {
    'direction'?: (_botflow_v1_Direction);
    'text'?: (string);
    'botSessionId'?: (string);
}
export interface Message__Output {
    'direction'?: (_botflow_v1_Direction__Output);
    'text'?: (string);
    'botSessionId'?: (string);
}
