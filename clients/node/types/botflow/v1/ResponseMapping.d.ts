export interface ResponseMapping {
    'path'?: (string);
    'variable'?: (string);
}
export interface ResponseMapping__Output {
    'path'?: (string);
    'variable'?: (string);
}
