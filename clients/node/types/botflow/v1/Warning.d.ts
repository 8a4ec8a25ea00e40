export interface Warning {
    'code'?: (string);
    'message'?: (string);
}
export interface Warning__Output {
    'code'?: (string);
    'message'?: (string);
}
