export interface SimulatedHttpResponse {
    'status'?: (number);
    'body'?: (string);
    'headers'?: ({
        [key: string]: string;
    });
}
export interface SimulatedHttpResponse__Output {
    'status'?: (number);
    'body'?: (string);
    'headers'?: ({
        [key: string]: string;
    });
}
