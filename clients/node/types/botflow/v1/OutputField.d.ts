import type { OutputType as _botflow_v1_OutputType, OutputType__Output as _botflow_v1_OutputType__Output } from '../../botflow/v1/OutputType';
export interface OutputField {
    'name'?: (string);
    'type'?: (_botflow_v1_OutputType);
    'variable'?: (string);
    'description'?: (string);
    'choices'?: (string)[];
}
export interface OutputField__Output {
    'name'?: (string);
    'type'?: (_botflow_v1_OutputType__Output);
    'variable'?: (string);
    'description'?: (string);
    'choices'?: (string)[];
}
