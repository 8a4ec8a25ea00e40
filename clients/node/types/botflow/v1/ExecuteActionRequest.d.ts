import type { Action as _botflow_v1_Action, Action__Output as _botflow_v1_Action__Output } from '../../botflow/v1/Action';
import type { Value as _botflow_v1_Value, Value__Output as _botflow_v1_Value__Output } from '../../botflow/v1/Value';
import type { VariableDefinition as _botflow_v1_VariableDefinition, VariableDefinition__Output as _botflow_v1_VariableDefinition__Output } from '../../botflow/v1/VariableDefinition';
import type { Conversation as _botflow_v1_Conversation, Conversation__Output as _botflow_v1_Conversation__Output } from '../../botflow/v1/Conversation';
export interface ExecuteActionRequest {
    'action'?: (_botflow_v1_Action | null);
    'variables'?: ({
        [key: string]: _botflow_v1_Value;
    });
    'variableDefinitions'?: (_botflow_v1_VariableDefinition)[];
    'conversation'?: (_botflow_v1_Conversation | null);
}
export interface ExecuteActionRequest__Output {
    'action'?: (_botflow_v1_Action__Output);
    'variables'?: ({
        [key: string]: _botflow_v1_Value__Output;
    });
    'variableDefinitions'?: (_botflow_v1_VariableDefinition__Output)[];
    'conversation'?: (_botflow_v1_Conversation__Output);
}
