import type { Condition as _botflow_v1_Condition, Condition__Output as _botflow_v1_Condition__Output } from '../../botflow/v1/Condition';
import type { ConditionJoin as _botflow_v1_ConditionJoin, ConditionJoin__Output as _botflow_v1_ConditionJoin__Output } from '../../botflow/v1/ConditionJoin';
export interface ChoiceBranch {
    'conditions'?: (_botflow_v1_Condition)[];
    'join'?: (_botflow_v1_ConditionJoin);
    'next'?: (string);
}
export interface ChoiceBranch__Output {
    'conditions'?: (_botflow_v1_Condition__Output)[];
    'join'?: (_botflow_v1_ConditionJoin__Output);
    'next'?: (string);
}
