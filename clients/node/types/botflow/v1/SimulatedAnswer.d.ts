import type { TokenUsage as _botflow_v1_TokenUsage, TokenUsage__Output as _botflow_v1_TokenUsage__Output } from '../../botflow/v1/TokenUsage';
export interface SimulatedAnswer {
    'text'?: (string);
    'finishReason'?: (string);
    'model'?: (string);
    'usage'?: (_botflow_v1_TokenUsage | null);
}
export interface SimulatedAnswer__Output {
    'text'?: (string);
    'finishReason'?: (string);
    'model'?: (string);
    'usage'?: (_botflow_v1_TokenUsage__Output);
}
