export interface SendMessageBlock {
    'text'?: (string);
}
export interface SendMessageBlock__Output {
    'text'?: (string);
}
