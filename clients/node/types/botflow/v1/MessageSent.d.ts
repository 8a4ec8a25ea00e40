export interface MessageSent {
    'text'?: (string);
}
export interface MessageSent__Output {
    'text'?: (string);
}
