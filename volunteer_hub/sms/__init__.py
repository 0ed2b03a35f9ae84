"""Template SMS from Chinese providers (Alibaba Cloud, Tencent Cloud) and the generic webhook."""
