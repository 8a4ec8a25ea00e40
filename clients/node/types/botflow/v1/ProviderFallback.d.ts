export interface ProviderFallback {
    'provider'?: (string);
    'model'?: (string);
    'token'?: (string);
    'baseUrl'?: (string);
    'providerOptions'?: ({
        [key: string]: string;
    });
}
export interface ProviderFallback__Output {
    'provider'?: (string);
    'model'?: (string);
    'token'?: (string);
    'baseUrl'?: (string);
    'providerOptions'?: ({
        [key: string]: string;
    });
}
