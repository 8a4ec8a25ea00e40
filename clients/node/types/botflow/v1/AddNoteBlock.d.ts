export interface AddNoteBlock {
    'text'?: (string);
}
export interface AddNoteBlock__Output {
    'text'?: (string);
}
