import type { TextList as _botflow_v1_TextList, TextList__Output as _botflow_v1_TextList__Output } from '../../botflow/v1/TextList';
export interface Value {
    'text'?: (string);
    'number'?: (number | string);
    'list'?: (_botflow_v1_TextList | null);
    'kind'?: "text" | "number" | "list";
}
export interface Value__Output {
    'text'?: (string);
    'number'?: (number);
    'list'?: (_botflow_v1_TextList__Output);
}
