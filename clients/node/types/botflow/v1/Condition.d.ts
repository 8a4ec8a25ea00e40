import type { ConditionOperator as _botflow_v1_ConditionOperator, ConditionOperator__Output as _botflow_v1_ConditionOperator__Output } from '../../botflow/v1/ConditionOperator';
export interface Condition {
    'variable'?: (string);
    'operator'?: (_botflow_v1_ConditionOperator);
    'value'?: (string);
}
export interface Condition__Output {
    'variable'?: (string);
    'operator'?: (_botflow_v1_ConditionOperator__Output);
    'value'?: (string);
}
