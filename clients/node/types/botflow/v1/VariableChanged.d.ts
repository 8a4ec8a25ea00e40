import type { Value as _botflow_v1_Value, Value__Output as _botflow_v1_Value__Output } from '../../botflow/v1/Value';
export interface VariableChanged {
    'name'?: (string);
    'value'?: (_botflow_v1_Value | null);
    'secret'?: (boolean);
}
export interface VariableChanged__Output {
    'name'?: (string);
    'value'?: (_botflow_v1_Value__Output);
    'secret'?: (boolean);
}
