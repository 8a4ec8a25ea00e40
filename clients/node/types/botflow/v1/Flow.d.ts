import type { VariableDefinition as _botflow_v1_VariableDefinition, VariableDefinition__Output as _botflow_v1_VariableDefinition__Output } from '../../botflow/v1/VariableDefinition';
import type { Block as _botflow_v1_Block, Block__Output as _botflow_v1_Block__Output } from '../../botflow/v1/Block';
export interface Flow {
    'name'?: (string);
    'startBlockId'?: (string);
    'variables'?: (_botflow_v1_VariableDefinition)[];
    'blocks'?: (_botflow_v1_Block)[];
}
export interface Flow__Output {
    'name'?: (string);
    'startBlockId'?: (string);
    'variables'?: (_botflow_v1_VariableDefinition__Output)[];
    'blocks'?: (_botflow_v1_Block__Output)[];
}
