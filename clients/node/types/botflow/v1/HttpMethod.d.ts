export declare const HttpMethod: {
    readonly HTTP_METHOD_UNSPECIFIED: "HTTP_METHOD_UNSPECIFIED";
    readonly HTTP_METHOD_GET: "HTTP_METHOD_GET";
    readonly HTTP_METHOD_POST: "HTTP_METHOD_POST";
    readonly HTTP_METHOD_PUT: "HTTP_METHOD_PUT";
    readonly HTTP_METHOD_PATCH: "HTTP_METHOD_PATCH";
    readonly HTTP_METHOD_DELETE: "HTTP_METHOD_DELETE";
};
export type HttpMethod = 'HTTP_METHOD_UNSPECIFIED' | 0 | 'HTTP_METHOD_GET' | 1 | 'HTTP_METHOD_POST' | 2 | 'HTTP_METHOD_PUT' | 3 | 'HTTP_METHOD_PATCH' | 4 | 'HTTP_METHOD_DELETE' | 5;
export type HttpMethod__Output = typeof HttpMethod[keyof typeof HttpMethod];
