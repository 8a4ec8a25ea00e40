import type { SetVariableOperation as _botflow_v1_SetVariableOperation, SetVariableOperation__Output as _botflow_v1_SetVariableOperation__Output } from '../../botflow/v1/SetVariableOperation';
export interface SetVariableAction {
    'variable'?: (string);
    'operation'?: (_botflow_v1_SetVariableOperation);
    'value'?: (string);
}
export interface SetVariableAction__Output {
    'variable'?: (string);
    'operation'?: (_botflow_v1_SetVariableOperation__Output);
    'value'?: (string);
}
