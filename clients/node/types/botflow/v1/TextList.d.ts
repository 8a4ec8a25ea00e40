export interface TextList {
    'items'?: (string)[];
}
export interface TextList__Output {
    'items'?: (string)[];
}
