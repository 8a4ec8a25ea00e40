export interface NoteAdded {
    'text'?: (string);
}
export interface NoteAdded__Output {
    'text'?: (string);
}
