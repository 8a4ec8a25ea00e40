import type { ChoiceBranch as _botflow_v1_ChoiceBranch, ChoiceBranch__Output as _botflow_v1_ChoiceBranch__Output } from '../../botflow/v1/ChoiceBranch';
export interface ChoiceBlock {
    'branches'?: (_botflow_v1_ChoiceBranch)[];
    'fallbackNext'?: (string);
}
export interface ChoiceBlock__Output {
    'branches'?: (_botflow_v1_ChoiceBranch__Output)[];
    'fallbackNext'?: (string);
}
